"""Curve verdicts on synthetic loss curves (one per verdict, passing and failing), and the gate's ``curve`` check
that reads them from the candidate's scorecard."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from evalkit.errors import GateError
from evalkit.gate import GateResult, load_policy, load_run, run_gate
from evalkit.gate.checks.curve import CurveName
from evalkit.scorecard import LossPoint, Scorecard, TrainingSection
from tests.test_gate_synthetic import write_binary_run
from tuner.curves import VERDICT_NAMES, CurveSettings, curve_verdicts

STEADY_TRAIN = [3.0, 2.6, 2.3, 2.1, 1.9, 1.8, 1.7, 1.65]
STEADY_EVAL = [2.7, 2.2, 1.9, 1.8]


def points(losses: list[float | None], every: int = 1) -> list[LossPoint]:
    return [LossPoint(step=(index + 1) * every, loss=loss) for index, loss in enumerate(losses)]


def verdicts(train: list[float | None], evals: list[float], **options: object) -> dict[str, tuple[str, str]]:
    best_step = options.pop("best_step", None)
    found = curve_verdicts(points(train), points(evals, every=2), CurveSettings(**options),  # type: ignore[arg-type]
                           best_step=best_step)  # type: ignore[arg-type]
    return {verdict.name: (verdict.verdict, verdict.reason) for verdict in found}


def test_a_steady_curve_passes_every_verdict() -> None:
    found = verdicts(STEADY_TRAIN, STEADY_EVAL)
    assert list(found) == list(VERDICT_NAMES)
    assert {name: verdict for name, (verdict, _) in found.items()} == dict.fromkeys(VERDICT_NAMES, "pass")


def test_a_high_flat_training_loss_is_underfitting() -> None:
    verdict, reason = verdicts([3.0, 3.01, 2.99, 3.0, 2.98, 3.0, 2.99, 2.97], [3.0, 3.0, 2.99, 2.99])["no_underfitting"]
    assert verdict == "fail" and "high and flat" in reason


def test_a_flat_but_low_training_loss_is_not_underfitting() -> None:
    assert verdicts([0.3] * 8, [0.35] * 4)["no_underfitting"][0] == "pass"


def test_rising_validation_loss_while_training_loss_falls_is_overfitting() -> None:
    train = [3.0, 2.5, 2.0, 1.5, 1.0, 0.7, 0.4, 0.2]
    verdict, reason = verdicts(train, [2.6, 2.1, 2.3, 2.6])["no_overfitting"]
    assert verdict == "fail" and "rose 2.100 -> 2.600 over steps 4-8" in reason
    assert verdicts(train, [2.6, 2.1, 2.3, 2.6], overfit_evals=3)["no_overfitting"][0] == "pass"


def test_overfitting_after_the_kept_best_checkpoint_is_a_warning() -> None:
    verdict, reason = verdicts([3.0, 2.5, 2.0, 1.5, 1.0, 0.7, 0.4, 0.2], [2.6, 2.1, 2.3, 2.6],
                               best_step=4)["no_overfitting"]
    assert verdict == "warn" and "best checkpoint (step 4)" in reason


def test_a_zig_zag_validation_loss_is_fluctuation_but_a_smooth_one_is_not() -> None:
    verdict, reason = verdicts(STEADY_TRAIN, [2.6, 1.6, 2.5, 1.5])["no_fluctuation"]
    assert verdict == "fail" and "swings" in reason
    assert verdicts(STEADY_TRAIN, [2.6, 1.6, 1.2, 1.1])["no_fluctuation"][0] == "pass"


def test_consistent_improvement_needs_both_losses_to_fall() -> None:
    assert verdicts(STEADY_TRAIN, STEADY_EVAL)["consistent_improvement"][0] == "pass"
    assert verdicts(STEADY_TRAIN, [1.8, 1.9, 2.0, 2.1])["consistent_improvement"][0] == "fail"


def test_a_loss_spike_or_a_non_finite_loss_is_unstable() -> None:
    spiked = [3.0, 2.6, 2.3, 2.1, 9.0, 1.8, 1.7, 1.65]
    verdict, reason = verdicts(spiked, STEADY_EVAL)["stable"]
    assert verdict == "fail" and "first at step 5" in reason
    verdict, reason = verdicts([3.0, 2.6, None, 2.1], STEADY_EVAL)["stable"]
    assert verdict == "fail" and reason.startswith("loss not finite at step(s) 3")


def test_too_few_points_give_warnings_not_verdicts() -> None:
    found = verdicts([3.0], [2.0])
    assert {name: verdict for name, (verdict, _) in found.items() if name != "stable"} == dict.fromkeys(
        ["no_underfitting", "no_overfitting", "no_fluctuation", "consistent_improvement"], "warn")


def test_the_check_kind_names_the_same_verdicts_as_the_tuner() -> None:
    assert get_args(CurveName) == VERDICT_NAMES


def trained_run(folder: Path, train: list[float], evals: list[float]) -> Path:
    """A synthetic scoring run whose scorecard carries a training section with these curves."""
    path = write_binary_run(folder, [1, 0, 1, 1])
    train_points, eval_points = points(train), points(evals, every=2)  # type: ignore[arg-type]
    section = TrainingSection(
        method="sft", adapter="lora", base="smollm2", base_fingerprint="sha256:base", output=str(folder),
        output_fingerprint="sha256:adapter", training_run="run-train", steps=len(train), epochs=1.0,
        summary={"first_train_loss": train[0]}, train_loss=train_points, eval_loss=eval_points,
        verdicts=curve_verdicts(train_points, eval_points))
    Scorecard.load(path).model_copy(update={"training": section}).save(path)
    return path


def gate(tmp_path: Path, candidate: Path, require: str = "") -> GateResult:
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"name: curves\nchecks:\n  - {{name: curves, kind: curve{require}}}\n", encoding="utf-8")
    return run_gate(load_policy(policy), load_run(str(candidate)), None)


def test_the_curve_check_passes_a_healthy_run_and_fails_an_overfit_one(tmp_path: Path) -> None:
    healthy = gate(tmp_path, trained_run(tmp_path / "healthy", STEADY_TRAIN, STEADY_EVAL))
    assert healthy.verdict == "pass" and "run-train" in healthy.checks[0].reason
    overfit = gate(tmp_path, trained_run(tmp_path / "overfit", [3.0, 2.5, 2.0, 1.5, 1.0, 0.7, 0.4, 0.2],
                                         [2.6, 2.1, 2.3, 2.6]))
    check = overfit.checks[0]
    assert overfit.verdict == "fail" and check.verdict == "fail" and "no_overfitting fail" in check.reason


def test_the_curve_check_checks_only_the_required_verdicts(tmp_path: Path) -> None:
    overfit = trained_run(tmp_path / "run", [3.0, 2.5, 2.0, 1.5, 1.0, 0.7, 0.4, 0.2], [2.6, 2.1, 2.3, 2.6])
    assert gate(tmp_path, overfit, ", require: [no_underfitting, stable]").verdict == "pass"


def test_an_undecided_verdict_makes_the_check_inconclusive(tmp_path: Path) -> None:
    result = gate(tmp_path, trained_run(tmp_path / "run", STEADY_TRAIN, [2.7, 2.2]))
    check = result.checks[0]
    assert check.verdict == "inconclusive" and check.blocks and "no_fluctuation warn" in check.reason


def test_a_candidate_without_training_curves_cannot_pass(tmp_path: Path) -> None:
    with pytest.raises(GateError, match="has none: gate the scoring run that evalkit tune recorded"):
        gate(tmp_path, write_binary_run(tmp_path / "plain", [1, 0, 1, 1]))


def test_an_unknown_verdict_name_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(GateError, match=r"checks\[0\] \(curves\)\.require\[0\]"):
        gate(tmp_path, write_binary_run(tmp_path / "plain", [1]), ", require: [no_overfit]")

