"""Promotion: an alias moves to a version only when the gate passes (or by hand with ``--force`` and a reason,
which is recorded). A version that fails is marked rejected with its failing checks; nothing else changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evalkit.checkpoints import resolve
from evalkit.errors import GateError
from evalkit.gate.baseline import resolve_baseline, run_for_checkpoint
from evalkit.gate.engine import run_gate
from evalkit.gate.history import save_gate_result
from evalkit.gate.inputs import RunInput
from evalkit.gate.policy import PolicyFile, load_policy
from evalkit.gate.result import GateResult
from tuner.registry import Event, RegistryError, aliases, get_version, move_alias, set_status

Scorer = Callable[[PolicyFile, str], RunInput]


def promote(version_ref: str, *, alias: str, policy: Path | None, score: Scorer,
            force_reason: str | None = None) -> tuple[GateResult | None, Event | None]:
    """Gate a version against the version ``alias`` points at now, and move ``alias`` only on a pass.

    Args:
        version_ref: a version id, prefix or alias.
        alias: the alias to move (``production`` or ``candidate``).
        policy: the gate policy (required unless forced).
        score: scores a checkpoint with a policy's suite when a version has no run with its tasks.
        force_reason: skip the gate and record this reason.

    Returns:
        The gate result (``None`` when forced) and the alias move (``None`` when the gate did not pass).
    """
    version = get_version(version_ref)
    if force_reason is not None:
        if not force_reason.strip():
            raise RegistryError("--force needs a reason: pass --reason 'why the gate is skipped'")
        return None, move_alias(alias, version.version_id, action="force-promote", reason=force_reason)
    if policy is None:
        raise GateError("promotion runs the gate: pass --policy POLICY.yaml (or --force --reason '...')")
    policy_file = load_policy(policy)
    candidate = resolve_baseline(version.version_id, policy_file, score)
    result = run_gate(policy_file, candidate, _baseline(alias, version.manifest.get("base"), policy_file, score))
    save_gate_result(result)
    if result.verdict != "pass":
        failing = ", ".join(check.name for check in result.checks if check.blocks)
        set_status(version.version_id, "rejected", f"gate {result.gate_id} failed: {failing}")
        return result, None
    return result, move_alias(alias, version.version_id, action="promote", gate_id=result.gate_id)


def _baseline(alias: str, base_spec: str | None, policy_file: PolicyFile, score: Scorer) -> RunInput | None:
    """What the alias points at now; with no version there yet, the version's base model (when it has one)."""
    current = aliases().get(alias)
    if current is not None:
        return resolve_baseline(current, policy_file, score)
    if base_spec:
        return run_for_checkpoint(base_spec, resolve(base_spec).fingerprint, policy_file, score)
    return None
