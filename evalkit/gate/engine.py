"""Run a policy's checks against a candidate (and a baseline) and decide: pass only if every blocking check passes."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from evalkit.errors import GateError
from evalkit.gate.checks import GateContext, RelativeCheck
from evalkit.gate.inputs import RunInput
from evalkit.gate.policy import PolicyFile
from evalkit.gate.result import CheckResult, GateResult, PolicySummary, RunSummary, blocks
from evalkit.gate.stats import holm_adjust


def new_gate_id(policy_name: str) -> str:
    """A sortable, unique gate id: ``YYYYMMDD-HHMMSS-<policy name>-<random hex>``."""
    name = "".join(ch if ch.isalnum() else "-" for ch in policy_name)[:24].strip("-") or "policy"
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{name}-{secrets.token_hex(3)}"


def _summary(run: RunInput) -> RunSummary:
    card = run.scorecard
    return RunSummary(run_id=card.run_id, spec=card.checkpoint.spec, fingerprint=card.checkpoint.fingerprint,
                      source=run.source)


def _p(value: float | None) -> float:
    return 1.0 if value is None else value


def apply_holm(results: list[CheckResult], alpha: float) -> list[CheckResult]:
    """Holm's correction on the failure side of the relative checks.

    A relative check fails when its interval says the candidate is worse than the margin; across many checks,
    some would fail by chance. Holm's step-down adjustment of their one-sided p-values of "worse than the
    margin" keeps the chance of failing a candidate that is within every margin at most alpha. Passes need no
    correction: the gate passes only if every check passes, an intersection-union test whose chance of passing
    a candidate that is worse than some margin is at most alpha already (Berger 1982).

    Args:
        results: every check's result; only ``relative`` ones are adjusted.
        alpha: ``1 - confidence``.

    Returns:
        The results; relative ones carry ``p_inferiority_holm``, and a fail whose adjusted p is not below alpha
        becomes inconclusive.
    """
    relative = [index for index, result in enumerate(results) if result.kind == "relative"]
    adjusted_p = holm_adjust([_p(results[index].evidence.p_inferiority) for index in relative])
    adjusted = list(results)
    for index, p_worse in zip(relative, adjusted_p, strict=True):
        result = results[index]
        update: dict[str, object] = {
            "evidence": result.evidence.model_copy(update={"p_inferiority_holm": p_worse})}
        if result.verdict == "fail" and p_worse >= alpha:
            update["verdict"] = "inconclusive"
            update["reason"] = (f"interval beyond the margin, but Holm-adjusted p(worse) {p_worse:.3g} across "
                                f"{len(relative)} relative checks is not below {alpha:.3g}: not a proven regression")
        adjusted[index] = result.model_copy(update=update)
    return adjusted


def run_gate(policy_file: PolicyFile, candidate: RunInput, baseline: RunInput | None, *,
             candidate_repeats: tuple[RunInput, ...] = (), baseline_repeats: tuple[RunInput, ...] = ()) -> GateResult:
    """Evaluate every check of a policy and decide.

    Args:
        policy_file: the loaded policy.
        candidate: the run under test.
        baseline: the run to compare with; required when the policy has relative checks.
        candidate_repeats: with ``repeats: k``, the candidate's k runs (``candidate`` among them).
        baseline_repeats: the baseline's k runs, when it was scored k times.

    Returns:
        The :class:`GateResult`: ``pass`` only if no check blocks.

    Raises:
        GateError: a check cannot be evaluated (missing metric, incomparable runs, unreadable items, ...).
    """
    policy = policy_file.policy
    relative = [check.name for check in policy.checks if isinstance(check, RelativeCheck)]
    if relative and baseline is None:
        raise GateError(f"policy {policy_file.path} has relative checks ({', '.join(relative)}): pass --baseline "
                        "RUN_OR_SCORECARD")
    context = GateContext(candidate=candidate, baseline=baseline, confidence=policy.confidence,
                          bootstrap_resamples=policy.bootstrap_resamples, seed=policy.seed,
                          expected_tasks=policy_file.expected_tasks(), candidate_repeats=candidate_repeats,
                          baseline_repeats=baseline_repeats)
    results = [check.evaluate(context) for check in policy.checks]
    if policy.holm and relative:
        results = apply_holm(results, 1 - policy.confidence)
    results = [result.model_copy(update={"blocks": blocks(result.verdict, result.severity, policy.on_inconclusive)})
               for result in results]
    return GateResult(
        gate_id=new_gate_id(policy.name), created_at=datetime.now(UTC),
        policy=PolicySummary(name=policy.name, path=str(policy_file.path), sha256=policy_file.sha256,
                             confidence=policy.confidence, holm=policy.holm, on_inconclusive=policy.on_inconclusive),
        candidate=_summary(candidate), baseline=_summary(baseline) if baseline else None,
        verdict="fail" if any(result.blocks for result in results) else "pass", checks=results,
    )
