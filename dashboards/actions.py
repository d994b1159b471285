"""The registry's write actions, as the dashboard runs them: the same functions that ``evalkit registry promote`` and
``evalkit registry rollback`` call (:func:`tuner.promote.promote`, :func:`tuner.registry.rollback`), allowed only to
an ``admin`` session whatever the page shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dashboards.login import is_admin
from evalkit.errors import EvalkitError
from evalkit.gate.inputs import RunInput
from evalkit.gate.policy import PolicyFile
from evalkit.gate.result import GateResult


class NotAllowedError(EvalkitError):
    """A write action by a session without the admin role."""


@dataclass(frozen=True)
class Outcome:
    """What an action did: whether the alias moved, one line saying so, and the gate result when one ran."""

    moved: bool
    message: str
    gate: GateResult | None = None


def _require_admin() -> None:
    if not is_admin():
        raise NotAllowedError("promote and rollback need the admin role: log in as an admin")


def _score(policy_file: PolicyFile, spec: str) -> RunInput:
    """Score a version that has no run with the policy's tasks, as the CLI does (progress to stderr, quiet)."""
    from rich.console import Console

    from evalkit.gate.command import score_candidate

    return score_candidate(policy_file, spec, console=Console(stderr=True), quiet=True)


def promote_version(version: str, *, alias: str, policy: str | None, force_reason: str | None = None) -> Outcome:
    """Gate a version against what ``alias`` points at now and move the alias only on a pass (or force it).

    Args:
        version: a version id, prefix or alias.
        alias: ``production`` or ``candidate``.
        policy: the gate policy YAML (required unless forced).
        force_reason: skip the gate and record this reason.

    Returns:
        The :class:`Outcome`; on a failed gate the alias is unchanged and the version is marked rejected.

    Raises:
        NotAllowedError: the session is not admin.
        EvalkitError: what the CLI would report as ``error:`` (unknown version, invalid policy, ...).
    """
    _require_admin()
    from tuner.promote import promote

    result, event = promote(version, alias=alias, policy=Path(policy) if policy else None, score=_score,
                            force_reason=force_reason)
    if event is None:
        return Outcome(False, f"gate failed: {alias} unchanged; {version} is marked rejected", result)
    return Outcome(True, f"{alias}: {event.from_version or '-'} -> {event.to_version} ({event.action})", result)


def rollback_alias(alias: str, *, reason: str | None) -> Outcome:
    """Move ``alias`` back to the version it pointed at before its last move.

    Raises:
        NotAllowedError: the session is not admin.
        EvalkitError: the alias has no earlier version.
    """
    _require_admin()
    from tuner.registry import rollback

    event = rollback(alias, reason=reason or None)
    return Outcome(True, f"{alias}: {event.from_version} -> {event.to_version} (rollback)")
