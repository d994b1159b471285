"""Promotion after training, on a tiny random Llama scored with a six-item suite: ``production`` moves only when every
check of the policy passes; a refused candidate is registered as rejected and nothing else changes; rollback
restores the previous version; a merged model is a version of its own, gated again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalkit import store
from evalkit.checkpoints import resolve
from tests.test_tuner_train import run_tune, write_config
from tuner.registry import aliases, get_version, history, move_alias, register_version, rollback

SUITE = "name: six-items\ntasks:\n  - {task: evalkit_arc_easy, limit: 6}\n"
PASSING = """name: passing
suite: suite.yaml
checks:
  - {name: all-tasks, kind: tasks_present}
  - {name: curves, kind: curve, require: [no_underfitting, stable]}
  - {name: arc-no-collapse, kind: relative, metric: evalkit_arc_easy.acc, max_drop: 1.0}
"""
FAILING = """name: failing
suite: suite.yaml
checks:
  - {name: curves, kind: curve, require: [no_underfitting, stable]}
  - {name: perfect-arc, kind: absolute, metric: evalkit_arc_easy.acc, op: ">=", value: 1.01}
"""


def promote_config(folder: Path, base: Path | str, policy: str, *, merge: bool = False, **options: Any) -> Path:
    """A fast tune config whose promotion uses ``policy`` over the six-item suite (``options`` as for
    :func:`tests.test_tuner_train.write_config`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.yaml").write_text(SUITE, encoding="utf-8")
    (folder / "policy.yaml").write_text(policy, encoding="utf-8")
    return write_config(folder, base, promotion={"policy": "policy.yaml"}, output={"dir": "out", "merge": merge},
                        **options)


def test_a_full_pass_moves_production_to_the_trained_adapter(evalkit_home: Path, tmp_path: Path,
                                                              tiny_model_dir: Path) -> None:
    outcome = run_tune(promote_config(tmp_path, tiny_model_dir, PASSING))
    (promotion,) = outcome.promotions
    assert outcome.exit_code == 0 and promotion.gate is not None and promotion.gate.verdict == "pass"
    assert aliases() == {"production": promotion.version_id}
    (moved,) = history("production")
    assert moved.action == "promote" and moved.gate_id == promotion.gate.gate_id and moved.from_version is None
    assert promotion.gate.baseline is not None and promotion.gate.baseline.spec == str(tiny_model_dir.resolve())
    version = get_version("production")
    training_run, scoring_run = version.run_ids
    assert training_run == outcome.section.training_run
    assert store.load_scorecard(scoring_run).training == outcome.section
    card = (version.path / "model_card.md").read_text(encoding="utf-8")
    assert "## Training curve verdicts" in card and "evalkit_arc_easy" in card


def test_a_refused_candidate_is_rejected_and_the_registry_is_otherwise_unchanged(
        evalkit_home: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    current = register_version(str(tiny_model_dir), resolve(str(tiny_model_dir)).fingerprint,
                               manifest={"base": None}, run_ids=[], model_card="# base\n")
    move_alias("production", current.version_id, action="force-promote", reason="the base ships first")
    before = (aliases(), history("production"))
    outcome = run_tune(promote_config(tmp_path, tiny_model_dir, FAILING))
    (promotion,) = outcome.promotions
    assert outcome.exit_code == 1 and promotion.event is None
    assert promotion.gate is not None and [check.name for check in promotion.gate.checks if check.blocks] == [
        "perfect-arc"]
    assert (aliases(), history("production")) == before
    rejected = get_version(promotion.version_id)
    assert rejected.status == "rejected" and "perfect-arc" in (rejected.note or "")


def test_rollback_restores_the_version_production_had_before(evalkit_home: Path, tmp_path: Path,
                                                             tiny_model_dir: Path) -> None:
    first = run_tune(promote_config(tmp_path / "one", tiny_model_dir, PASSING)).promotions[0].version_id
    second = run_tune(promote_config(tmp_path / "two", tiny_model_dir, PASSING)).promotions[0].version_id
    assert aliases()["production"] == second and first != second
    event = rollback("production", reason="second adapter misbehaves")
    assert aliases()["production"] == first and event.from_version == second and event.action == "rollback"


def test_a_merged_model_is_a_new_version_gated_on_its_own(evalkit_home: Path, tmp_path: Path,
                                                           tiny_model_dir: Path) -> None:
    outcome = run_tune(promote_config(tmp_path, tiny_model_dir, PASSING, merge=True))
    adapter, merged = outcome.promotions
    assert merged.spec == str(tmp_path / "out" / "merged") and resolve(merged.spec).kind == "hf_dir"
    assert adapter.gate is not None and merged.gate is not None and merged.gate.gate_id != adapter.gate.gate_id
    assert merged.gate.baseline is not None and merged.gate.baseline.spec == adapter.spec
    assert get_version(merged.version_id).manifest["merged_from"] == get_version(adapter.version_id).fingerprint
    assert aliases()["production"] == merged.version_id
