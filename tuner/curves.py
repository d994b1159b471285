"""Verdicts on a training run's loss curves (the guide's §7.2 diagnostics), each with the numbers behind it.

Every verdict is named for the good outcome, so ``pass`` is always good:

- ``no_underfitting``: fails when the training loss stays **high and flat**: the mean of its last quarter is above
  ``underfit_high_loss`` and less than ``underfit_min_drop`` (relative) below the mean of its first quarter.
- ``no_overfitting``: fails when the **validation loss rises** at ``overfit_evals`` consecutive evaluations while the
  training loss (its mean between evaluations) falls over the same span. When the best checkpoint, kept by
  early stopping, predates the rise, the delivered weights are not the overfit ones: ``warn``.
- ``no_fluctuation``: fails when the validation loss **swings**: the standard deviation of its residuals around a
  running median of three, relative to its mean, is above ``fluctuation_max`` (a smooth curve, rising or falling,
  has residuals of zero; a zig-zag does not).
- ``consistent_improvement``: passes when both the training loss (last quarter vs first quarter) and the
  validation loss (last vs first evaluation) went down.
- ``stable``: fails when a loss is not finite or the training loss **spikes** above ``spike_factor`` times the
  median of the five losses before it (a sign of a too-high learning rate or noisy gradients).

A verdict without enough points to decide (for example fewer than three evaluations for ``no_fluctuation``) is
``warn``: the gate's curve check reports it as inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evalkit.scorecard import CurveVerdict, LossPoint

SPIKE_WINDOW = 5


class CurveSettings(BaseModel):
    """Thresholds of the curve verdicts (``curves:`` in a tune config)."""

    model_config = ConfigDict(extra="forbid")

    underfit_min_drop: float = Field(default=0.05, ge=0, lt=1, description="Relative drop of the training loss "
                                     "(first to last quarter) below which the curve is flat.")
    underfit_high_loss: float = Field(default=1.0, ge=0, description="Training loss (nats/token) above which a flat "
                                      "curve counts as underfitting.")
    overfit_evals: int = Field(default=2, ge=1, description="Consecutive evaluations of rising validation loss (with "
                               "falling training loss) that make overfitting.")
    fluctuation_max: float = Field(default=0.05, gt=0, description="Largest tolerated relative standard deviation of "
                                   "the validation loss around its running median.")
    spike_factor: float = Field(default=2.0, gt=1, description="A training loss above this multiple of the median of "
                                "the losses before it is a spike.")


def _values(points: list[LossPoint]) -> list[float]:
    return [math.inf if point.loss is None else point.loss for point in points]


def _quarters(values: list[float]) -> tuple[float, float]:
    window = max(1, len(values) // 4)
    return float(np.mean(values[:window])), float(np.mean(values[-window:]))


def _verdict(name: str, verdict: str, reason: str, **evidence: float | str | bool | list[float] | None
             ) -> CurveVerdict:
    return CurveVerdict(name=name, verdict=verdict, reason=reason, evidence=evidence)  # type: ignore[arg-type]


def no_underfitting(train: list[LossPoint], evals: list[LossPoint], settings: CurveSettings,
                    best_step: int | None) -> CurveVerdict:
    """Training loss high and flat (see the module docstring)."""
    name = "no_underfitting"
    if len(train) < 2:
        return _verdict(name, "warn", f"{len(train)} training loss(es): too few to judge", points=len(train))
    first, last = _quarters(_values(train))
    drop = (first - last) / first if first > 0 else 0.0
    evidence = {"first_quarter": round(first, 4), "last_quarter": round(last, 4), "relative_drop": round(drop, 4),
                "min_drop": settings.underfit_min_drop, "high_loss": settings.underfit_high_loss}
    if drop < settings.underfit_min_drop and last > settings.underfit_high_loss:
        return _verdict(name, "fail", f"training loss high and flat: first/last quarter {first:.3f} -> {last:.3f} "
                        f"({drop:.1%} drop < "
                        f"{settings.underfit_min_drop:.0%}, above {settings.underfit_high_loss:g}): train longer, "
                        "raise the learning rate or the adapter rank", **evidence)
    return _verdict(name, "pass", f"training loss fell {drop:.1%}: first/last quarter {first:.3f} -> {last:.3f}",
                    **evidence)


def _train_between(train: list[LossPoint], evals: list[LossPoint]) -> list[float]:
    """Mean training loss in each interval (previous evaluation, this evaluation]."""
    means, previous = [], -1
    for point in evals:
        inside = [value for step, value in zip((p.step for p in train), _values(train), strict=True)
                  if previous < step <= point.step]
        means.append(float(np.mean(inside)) if inside else math.nan)
        previous = point.step
    return means


def no_overfitting(train: list[LossPoint], evals: list[LossPoint], settings: CurveSettings,
                   best_step: int | None) -> CurveVerdict:
    """Validation loss rising while training loss falls (see the module docstring)."""
    name, k = "no_overfitting", settings.overfit_evals
    if len(evals) < k + 1:
        return _verdict(name, "warn", f"{len(evals)} evaluation(s): {k + 1} are needed to see a rise over {k}",
                        evaluations=len(evals))
    loss, trained = _values(evals), _train_between(train, evals)
    for end in range(k, len(evals)):
        start = end - k
        rising = all(loss[index] > loss[index - 1] for index in range(start + 1, end + 1))
        if rising and trained[end] < trained[start]:
            evidence = {"from_step": evals[start].step, "to_step": evals[end].step,
                        "eval_loss": [round(value, 4) for value in loss[start:end + 1]],
                        "train_loss": [round(value, 4) for value in trained[start:end + 1]], "best_step": best_step}
            span = (f"validation loss rose {loss[start]:.3f} -> {loss[end]:.3f} over steps {evals[start].step}-"
                    f"{evals[end].step} while training loss fell {trained[start]:.3f} -> {trained[end]:.3f}")
            if best_step is not None and best_step <= evals[start].step:
                return _verdict(name, "warn", f"{span}; the best checkpoint (step {best_step}) predates it and was "
                                "kept", **evidence)
            return _verdict(name, "fail", f"{span}: stop earlier, add data or regularise (dropout, weight decay)",
                            **evidence)
    return _verdict(name, "pass", f"validation loss never rose over {k} consecutive evaluations while training "
                    "loss fell", evaluations=len(evals), eval_loss=[round(value, 4) for value in loss])


def _running_median(values: list[float]) -> np.ndarray:
    padded = [values[0], *values, values[-1]]
    return np.array([np.median(padded[index:index + 3]) for index in range(len(values))])


def no_fluctuation(train: list[LossPoint], evals: list[LossPoint], settings: CurveSettings,
                   best_step: int | None) -> CurveVerdict:
    """Validation loss swinging around its trend (see the module docstring)."""
    name = "no_fluctuation"
    if len(evals) < 3:
        return _verdict(name, "warn", f"{len(evals)} evaluation(s): 3 are needed to see swings",
                        evaluations=len(evals))
    loss = np.array(_values(evals))
    residuals = loss - _running_median(list(loss))
    relative = float(np.std(residuals) / np.mean(loss)) if np.all(np.isfinite(loss)) else math.inf
    evidence = {"relative_std": round(relative, 4), "variance": round(float(np.var(residuals)), 6),
                "threshold": settings.fluctuation_max, "eval_loss": [round(float(value), 4) for value in loss]}
    if relative > settings.fluctuation_max:
        return _verdict(name, "fail", f"validation loss swings: relative std {relative:.3f} around its running median "
                        f"> {settings.fluctuation_max:g}: lower the learning rate or raise the batch size", **evidence)
    return _verdict(name, "pass", f"validation loss relative std {relative:.3f} <= {settings.fluctuation_max:g}",
                    **evidence)


def consistent_improvement(train: list[LossPoint], evals: list[LossPoint], settings: CurveSettings,
                           best_step: int | None) -> CurveVerdict:
    """Both losses went down (see the module docstring)."""
    name = "consistent_improvement"
    if len(train) < 2 or len(evals) < 2:
        return _verdict(name, "warn", f"{len(train)} training and {len(evals)} validation loss(es): 2 of each are "
                        "needed", points=len(train), evaluations=len(evals))
    first_train, last_train = _quarters(_values(train))
    first_eval, last_eval = _values(evals)[0], _values(evals)[-1]
    evidence = {"train_first_quarter": round(first_train, 4), "train_last_quarter": round(last_train, 4),
                "eval_first": round(first_eval, 4), "eval_last": round(last_eval, 4)}
    moves = (f"training (first/last quarter) {first_train:.3f} -> {last_train:.3f}, validation {first_eval:.3f} -> "
             f"{last_eval:.3f}")
    if last_train < first_train and last_eval < first_eval:
        return _verdict(name, "pass", f"both losses fell: {moves}", **evidence)
    return _verdict(name, "fail", f"not both losses fell: {moves}", **evidence)


def stable(train: list[LossPoint], evals: list[LossPoint], settings: CurveSettings,
           best_step: int | None) -> CurveVerdict:
    """Finite losses without spikes (see the module docstring)."""
    name = "stable"
    not_finite = [point.step for point in train + evals if point.loss is None or not math.isfinite(point.loss)]
    if not_finite:
        return _verdict(name, "fail", f"loss not finite at step(s) {', '.join(map(str, not_finite[:5]))}: lower the "
                        "learning rate, keep gradient clipping on", not_finite_steps=[float(step) for step in not_finite])
    values = _values(train)
    spikes = [(train[index].step, values[index], float(np.median(values[max(0, index - SPIKE_WINDOW):index])))
              for index in range(3, len(values))
              if values[index] > settings.spike_factor * np.median(values[max(0, index - SPIKE_WINDOW):index])]
    if spikes:
        step, value, median = spikes[0]
        return _verdict(name, "fail", f"{len(spikes)} training-loss spike(s), first at step {step}: {value:.3f} > "
                        f"{settings.spike_factor:g} x median {median:.3f}: lower the learning rate or clip harder",
                        spike_steps=[float(spike[0]) for spike in spikes])
    return _verdict(name, "pass", f"all losses finite, no spike above {settings.spike_factor:g} x the running median",
                    points=len(values))


VERDICTS: dict[str, Callable[[list[LossPoint], list[LossPoint], CurveSettings, int | None], CurveVerdict]] = {
    "no_underfitting": no_underfitting, "no_overfitting": no_overfitting, "no_fluctuation": no_fluctuation,
    "consistent_improvement": consistent_improvement, "stable": stable,
}
VERDICT_NAMES = tuple(VERDICTS)


def curve_verdicts(train: list[LossPoint], evals: list[LossPoint], settings: CurveSettings | None = None, *,
                   best_step: int | None = None) -> list[CurveVerdict]:
    """Every verdict, in :data:`VERDICT_NAMES` order.

    Args:
        train: training losses by step.
        evals: validation losses by step (one per evaluation).
        settings: thresholds (defaults when ``None``).
        best_step: the step of the checkpoint kept as best, if early stopping kept one.

    Returns:
        The verdicts.
    """
    settings = settings or CurveSettings()
    return [VERDICTS[name](train, evals, settings, best_step) for name in VERDICT_NAMES]
