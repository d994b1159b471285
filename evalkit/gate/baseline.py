"""``--baseline``: a run id, a run folder, a scorecard path, or a registry alias or version (``production``). A
registry version is gated through its newest finished run that has every task the policy expects; when it has
none, its checkpoint is scored with the policy's suite first."""

from __future__ import annotations

from collections.abc import Callable

from evalkit import store
from evalkit.errors import GateError
from evalkit.gate.inputs import RunInput, load_run
from evalkit.gate.paths import all_tasks
from evalkit.gate.policy import PolicyFile
from tuner.registry import ALIASES, RegistryError, Version, get_version

Scorer = Callable[[PolicyFile, str], RunInput]


def _registry_version(reference: str) -> Version | None:
    try:
        return get_version(reference)
    except RegistryError:
        if reference in ALIASES:
            raise GateError(f"baseline alias {reference!r} points at no version yet: promote one first (evalkit "
                            "registry promote) or pass a run id") from None
        return None


def _covering_run(fingerprint: str, preferred: tuple[str, ...], expected: set[str],
                  suite: str | None) -> RunInput | None:
    run_ids = list(reversed(preferred))
    run_ids += [record.run_id for record in store.list_runs() if record.fingerprint == fingerprint]
    for run_id in dict.fromkeys(run_ids):
        try:
            run = load_run(run_id)
        except GateError:
            continue
        # The same suite means the same per-task settings (limits, shots), which the gate requires of both runs.
        same_suite = suite is None or run.scorecard.suite == suite
        if same_suite and expected <= {task.name for task in all_tasks(run.scorecard)}:
            return run
    return None


def resolve_baseline(reference: str, policy_file: PolicyFile, score: Scorer) -> RunInput:
    """Load the baseline the user named.

    Args:
        reference: what ``--baseline`` says.
        policy_file: the policy (its suite's tasks decide which of a version's runs fits).
        score: scores a checkpoint spec with the policy's suite (used when a registry version has no fitting run).

    Returns:
        The baseline run.
    """
    version = _registry_version(reference)
    if version is None:
        return load_run(reference)
    return run_for_checkpoint(version.spec, version.fingerprint, policy_file, score, preferred=version.run_ids)


def run_for_checkpoint(spec: str, fingerprint: str, policy_file: PolicyFile, score: Scorer, *,
                       preferred: tuple[str, ...] = ()) -> RunInput:
    """The newest finished run of a checkpoint scored with the policy's suite (every task it expects, same settings;
    ``preferred`` runs first), or a new run of the policy's suite when there is none.

    Args:
        spec: the checkpoint spec (scored when no run fits).
        fingerprint: its fingerprint (runs of the same weights are reused).
        policy_file: the policy.
        score: the scorer.
        preferred: run ids to try first, newest last.

    Returns:
        The run.
    """
    suite = policy_file.suite.name if policy_file.suite else None
    found = _covering_run(fingerprint, preferred, set(policy_file.expected_tasks()), suite)
    return found if found is not None else score(policy_file, spec)
