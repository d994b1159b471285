"""What every check kind shares: its policy fields, the context it is evaluated in, and the result it builds."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from evalkit.errors import GateError
from evalkit.gate.inputs import RunInput
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


def signed(value: float | None, digits: int = 4) -> str:
    """A number with its sign, e.g. ``+0.0120``; ``n/a`` for None."""
    return "n/a" if value is None else f"{value:+.{digits}f}"
