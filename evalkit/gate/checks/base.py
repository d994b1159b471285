"""What every check kind shares: its policy fields, the context it is evaluated in, and the result it builds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evalkit.errors import GateError
from evalkit.gate.inputs import RunInput
from evalkit.gate.paths import MetricPath, lookup_metric
from evalkit.gate.result import CheckResult, Evidence, Severity, Verdict


@dataclass
class GateContext:
    """Everything a check may read: the runs and the policy-wide statistical settings."""

    candidate: RunInput
    baseline: RunInput | None
    confidence: float = 0.95
    bootstrap_resamples: int = 10_000
    seed: int = 0
    expected_tasks: tuple[str, ...] = ()
    candidate_repeats: tuple[RunInput, ...] = ()
    baseline_repeats: tuple[RunInput, ...] = ()

    def spread(self, path: MetricPath, *, relative: bool) -> float | None:
        """The run-to-run standard deviation of a metric over the repeats (``None`` without repeats); for a
        relative check, of the difference (the two models' spreads combined as independent)."""
        spreads = [_spread(self.candidate_repeats, path, "candidate")]
        if relative:
            spreads.append(_spread(self.baseline_repeats, path, "baseline"))
        known = [value for value in spreads if value is not None]
        return float(np.sqrt(sum(value**2 for value in known))) if known else None

    def require_baseline(self, check: str) -> RunInput:
        """The baseline run; a check comparing against it cannot run without one."""
        if self.baseline is None:
            raise GateError(f"check {check!r} compares with a baseline: pass --baseline RUN_OR_SCORECARD")
        return self.baseline


class CheckBase(BaseModel):
    """Fields every check has. Subclasses add their own and implement :meth:`evaluate`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Unique within the policy; the JUnit test case name.")
    severity: Severity = Field(default="block", description="block: a fail stops the gate; warn: reported only.")
    description: str = Field(default="", description="What the check protects, for the reports.")

    def evaluate(self, context: GateContext) -> CheckResult:
        """Evaluate the check.

        Args:
            context: the runs and settings.

        Returns:
            The :class:`CheckResult` (``blocks`` is set later, by the gate, from the policy).

        Raises:
            GateError: the check cannot be evaluated (fail closed).
        """
        raise NotImplementedError

    def named_tasks(self) -> set[str]:
        """Tasks this check names (the default expectation of ``tasks_present``)."""
        return set()

    def _result(self, verdict: Verdict, reason: str, evidence: Evidence) -> CheckResult:
        kind = getattr(self, "kind", type(self).__name__)
        return CheckResult(name=self.name, kind=kind, severity=self.severity, verdict=verdict, reason=reason,
                           evidence=evidence)


def _spread(runs: tuple[RunInput, ...], path: MetricPath, role: str) -> float | None:
    if len(runs) < 2:
        return None
    values = [lookup_metric(run.scorecard, path, role=role).value for run in runs]
    return float(np.std(values, ddof=1))


def noise_verdict(verdict: Verdict, distance: float, spread: float | None, repeats: int) -> tuple[Verdict, str]:
    """Turn a pass or fail whose deciding ``distance`` (from the threshold or margin) is within twice the
    run-to-run ``spread`` into inconclusive; return the verdict and a note for the reason ('' when unchanged)."""
    if spread is None or abs(distance) > 2 * spread:
        return verdict, ""
    return "inconclusive", (f"within run-to-run noise: the deciding difference {abs(distance):.4f} is no more than "
                            f"twice the spread {spread:.4f} of {repeats} runs")


def signed(value: float | None, digits: int = 4) -> str:
    """A number with its sign, e.g. ``+0.0120``; ``n/a`` for None."""
    return "n/a" if value is None else f"{value:+.{digits}f}"
