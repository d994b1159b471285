"""``curve``: the candidate's training-curve verdicts (``evalkit tune`` records them in the scorecard's ``training``
section) are all ``pass``. Verdict names: ``no_underfitting``, ``no_overfitting``, ``no_fluctuation``,
``consistent_improvement``, ``stable`` (see :mod:`tuner.curves` for what each tests)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from evalkit.errors import GateError
from evalkit.gate.checks.base import CheckBase, GateContext
from evalkit.gate.result import CheckResult, Evidence

CurveName = Literal["no_underfitting", "no_overfitting", "no_fluctuation", "consistent_improvement", "stable"]


class CurveCheck(CheckBase):
    """Fail when a required verdict failed; inconclusive when one could not be decided (``warn``: too few
    evaluations, or overfitting that the kept best checkpoint predates); pass when all passed. A candidate without
    a training section cannot be judged: that is an error (fail closed), never a pass."""

    kind: Literal["curve"] = "curve"
    require: list[CurveName] = Field(
        default_factory=lambda: ["no_underfitting", "no_overfitting", "no_fluctuation", "consistent_improvement",
                                 "stable"],
        min_length=1, description="The verdicts that must pass (default: all five).")

    def evaluate(self, context: GateContext) -> CheckResult:
        training = context.candidate.scorecard.training
        if training is None:
            raise GateError(f"check {self.name!r} reads training curves, but candidate run "
                            f"{context.candidate.scorecard.run_id} has none: gate the scoring run that evalkit tune "
                            "recorded for this checkpoint (its scorecard carries the training section)")
        verdicts = {verdict.name: verdict for verdict in training.verdicts}
        missing = [name for name in self.require if name not in verdicts]
        if missing:
            raise GateError(f"check {self.name!r}: the training section has no verdict {', '.join(missing)}: "
                            "re-train with this evalkit version")
        failed = [name for name in self.require if verdicts[name].verdict == "fail"]
        undecided = [name for name in self.require if verdicts[name].verdict == "warn"]
        evidence = Evidence(metric="training curves", n=len(self.require))
        if failed or undecided:
            notes = "; ".join(f"{name} {verdicts[name].verdict}: {verdicts[name].reason}"
                              for name in failed + undecided)
            return self._result("fail" if failed else "inconclusive", notes, evidence)
        return self._result("pass", f"all {len(self.require)} curve verdicts of training run {training.training_run} "
                            f"pass ({', '.join(self.require)})", evidence)
