"""What a gate run decided: one :class:`CheckResult` per check with the numbers behind it, and the overall verdict."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["pass", "fail", "inconclusive"]
Severity = Literal["block", "warn"]
GATE_SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Evidence(_Strict):
    """The numbers behind a verdict; fields that do not apply to a check kind stay ``None``."""

    metric: str | None = Field(default=None, description="The metric path the check reads.")
    candidate: float | None = Field(default=None, description="The candidate's value (mean over paired items).")
    baseline: float | None = Field(default=None, description="The baseline's value (mean over paired items).")
    delta: float | None = Field(default=None, description="candidate - baseline.")
    ci_low: float | None = Field(default=None, description="Lower bound of the interval for delta.")
    ci_high: float | None = Field(default=None, description="Upper bound of the interval for delta.")
    confidence: float | None = Field(default=None, description="Two-sided confidence level of the interval.")
    n: int | None = Field(default=None, description="Items (paired items for relative checks).")
    stderr: float | None = Field(default=None, description="Standard error of the candidate's value, if known.")
    p_value: float | None = Field(default=None, description="p of 'no difference' (McNemar exact or bootstrap).")
    p_noninferiority: float | None = Field(default=None, description="One-sided p of 'not worse than the margin'.")
    p_inferiority: float | None = Field(default=None, description="One-sided p of 'worse than the margin'.")
    p_inferiority_holm: float | None = Field(default=None, description="p_inferiority after Holm's correction.")
    method: str | None = Field(default=None, description="mcnemar-exact+newcombe or paired-bootstrap.")
    max_drop: float | None = Field(default=None, description="The non-inferiority margin.")
    higher_is_better: bool | None = None
    gains: int | None = Field(default=None, description="Items only the candidate got right.")
    losses: int | None = Field(default=None, description="Items only the baseline got right.")
    op: str | None = None
    threshold: float | None = None
    repeats: int | None = Field(default=None, description="Runs per model behind the value (policy repeats).")
    run_spread: float | None = Field(default=None, description="Run-to-run standard deviation of the value (of the "
                                     "delta for relative checks), from the repeats.")
    within_noise: bool | None = Field(default=None, description="The deciding difference is within twice the "
                                      "run-to-run spread.")
    expected_tasks: list[str] | None = None
    missing_tasks: list[str] | None = None


class CheckResult(_Strict):
    """One check's verdict."""

    name: str
    kind: str
    severity: Severity
    verdict: Verdict
    blocks: bool = Field(default=False, description="Whether this verdict stops the gate from passing.")
    reason: str = Field(description="One line: why the verdict is what it is.")
    evidence: Evidence


class RunSummary(_Strict):
    """A run the gate read."""

    run_id: str
    spec: str
    fingerprint: str
    source: str = Field(description="What was passed on the command line (run id or path).")


class PolicySummary(_Strict):
    """The policy the gate applied."""

    name: str
    path: str
    sha256: str
    confidence: float
    holm: bool
    on_inconclusive: Literal["block", "warn"]


class GateResult(_Strict):
    """A gate run: overall verdict and each check's result."""

    schema_version: int = GATE_SCHEMA_VERSION
    gate_id: str
    created_at: datetime
    policy: PolicySummary
    candidate: RunSummary
    baseline: RunSummary | None
    verdict: Literal["pass", "fail"]
    checks: list[CheckResult]

    @property
    def exit_code(self) -> int:
        """0 when the gate passes, 1 when it fails."""
        return 0 if self.verdict == "pass" else 1

    def counts(self) -> dict[str, int]:
        """How many checks passed, failed and were inconclusive, and how many block."""
        found = {"pass": 0, "fail": 0, "inconclusive": 0, "blocking": 0}
        for check in self.checks:
            found[check.verdict] += 1
            found["blocking"] += check.blocks
        return found


def blocks(verdict: Verdict, severity: Severity, on_inconclusive: Literal["block", "warn"]) -> bool:
    """Whether a check's verdict stops the gate: a failed ``block`` check, or an inconclusive one unless the
    policy says ``on_inconclusive: warn``. ``warn`` checks never block."""
    if severity == "warn" or verdict == "pass":
        return False
    return verdict == "fail" or on_inconclusive == "block"
