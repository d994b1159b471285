"""The model registry: versions, aliases, gated promotion, forced promotion, rollback, and ``--baseline production``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evalkit import store
from tests.test_gate_synthetic import TASK, paired_outcomes, write_binary_run
from tuner.promote import promote
from tuner.registry import RegistryError, aliases, get_version, history, move_alias, register_version, rollback

POLICY = f"""
name: registry-test
checks:
  - {{name: no-drop, kind: relative, metric: {TASK}.acc, max_drop: 0.05}}
  - {{name: floor, kind: absolute, metric: {TASK}.acc, op: ">=", value: 0.5}}
"""


def stored_run(run_id: str, outcomes: list[int], fingerprint: str) -> str:
    """A finished run in the store whose one task has the given 0/1 outcomes."""
    folder = store.start_run(run_id, f"model-{run_id}", fingerprint, None)
    write_binary_run(folder, outcomes)
    store.finish_run(run_id)
    return run_id


def version(run_id: str, outcomes: list[int]) -> str:
    """Register a version scored by one stored run."""
    fingerprint = f"sha256:{run_id}"
    stored_run(run_id, outcomes, fingerprint)
    return register_version(f"model-{run_id}", fingerprint, manifest={"base": None}, run_ids=[run_id],
                            model_card="# card\n").version_id


def no_scoring(policy_file: object, spec: str) -> None:
    """A scorer that must not be called: the registry finds the stored runs."""
    raise AssertionError(f"unexpected scoring of {spec}")


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def test_versions_are_found_by_id_prefix_and_alias(evalkit_home: Path) -> None:
    first = version("run-a", [1, 0] * 50)
    move_alias("production", first, action="force-promote", reason="bootstrap")
    assert get_version("production").version_id == first == get_version(first[:12]).version_id
    with pytest.raises(RegistryError, match="no registry version or alias 'staging'"):
        get_version("staging")


def test_promotion_moves_the_alias_only_when_the_gate_passes(evalkit_home: Path, policy: Path) -> None:
    baseline, good = paired_outcomes(1000, accuracy=0.7, gains=40)
    _, bad = paired_outcomes(1000, accuracy=0.7, losses=200)
    first = version("run-base", baseline)
    move_alias("production", first, action="force-promote", reason="first model")
    second = version("run-good", good)
    result, event = promote(second, alias="production", policy=policy, score=no_scoring)
    assert result is not None and result.verdict == "pass" and event is not None
    assert aliases()["production"] == second and event.gate_id == result.gate_id
    third = version("run-bad", bad)
    result, event = promote(third, alias="production", policy=policy, score=no_scoring)
    assert result is not None and result.verdict == "fail" and event is None
    assert aliases()["production"] == second
    assert get_version(third).status == "rejected" and "no-drop" in (get_version(third).note or "")
    with pytest.raises(RegistryError, match="rejected"):
        move_alias("production", third, action="promote")


def test_rollback_restores_the_previous_version(evalkit_home: Path) -> None:
    first, second = version("run-1", [1] * 10), version("run-2", [1] * 10)
    move_alias("production", first, action="force-promote", reason="first")
    move_alias("production", second, action="force-promote", reason="second")
    event = rollback("production", reason="regression in prod")
    assert aliases()["production"] == first and event.from_version == second
    assert [item.action for item in history("production")] == ["force-promote", "force-promote", "rollback"]


def test_rollback_without_history_is_a_one_line_error(evalkit_home: Path) -> None:
    with pytest.raises(RegistryError, match="no earlier version"):
        rollback("production")


def test_a_forced_promotion_needs_a_reason(evalkit_home: Path) -> None:
    first = version("run-f", [1] * 10)
    with pytest.raises(RegistryError, match="needs a reason"):
        promote(first, alias="production", policy=None, score=no_scoring, force_reason=" ")
    _, event = promote(first, alias="production", policy=None, score=no_scoring, force_reason="hotfix")
    assert event is not None and event.reason == "hotfix" and event.action == "force-promote"


def test_the_gate_takes_a_registry_alias_as_its_baseline(evalkit_home: Path, policy: Path, tmp_path: Path) -> None:
    baseline, candidate = paired_outcomes(1000, accuracy=0.7, gains=30)
    move_alias("production", version("run-prod", baseline), action="force-promote", reason="first")
    candidate_run = write_binary_run(tmp_path / "cand", candidate)
    completed = subprocess.run([sys.executable, "-m", "evalkit", "gate", "--policy", str(policy), "--candidate",
                                str(candidate_run), "--baseline", "production", "--quiet"],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    unset = subprocess.run([sys.executable, "-m", "evalkit", "gate", "--policy", str(policy), "--candidate",
                            str(candidate_run), "--baseline", "candidate", "--quiet"],
                           capture_output=True, text=True, check=False)
    assert unset.returncode == 2 and "points at no version" in unset.stderr
