"""``evalkit tune`` plumbing on a tiny random Llama (seconds, no downloads): TRL trains the adapter, the loss goes down
on a memorisable set, the losses land in the run store and the manifest, and bad data or a used output folder stop
the run before training. Real training on the embedded model is in test_tuner_real.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from evalkit import store
from evalkit.checkpoints import resolve
from tuner.errors import TuneError
from tuner.pipeline import TuneOutcome, tune
from tuner.registry import aliases, list_versions

SECRETS = "abcdefghijkl"


def memorisable_rows(method: str = "sft") -> list[dict[str, str]]:
    """Twelve short examples a small model can learn by heart."""
    if method == "dpo":
        return [{"prompt": f"Code {index}:", "chosen": f" the secret is {SECRETS[index]}{index}",
                 "rejected": f" no idea, maybe {index + 7}"} for index in range(12)]
    return [{"prompt": f"Code {index}:", "completion": f" the secret is {SECRETS[index]}{index}"} for index in range(12)]


def write_config(folder: Path, base: Path | str, *, method: str = "sft", rows: list[dict[str, str]] | None = None,
                 **sections: dict[str, Any]) -> Path:
    """A tune config for a few fast steps (8 steps, batch 2, evaluation every 2 steps) in ``folder``."""
    (folder / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows or memorisable_rows(method)),
                                       encoding="utf-8")
    config: dict[str, Any] = {
        "base": str(base), "method": method,
        "data": {"path": "data.jsonl", "preflight": {"guard": None, "min_examples": 10}},
        "training": {"max_steps": 8, "batch_size": 2, "learning_rate": 0.02, "eval_strategy": "steps",
                     "eval_steps": 2, "max_length": 64, "early_stopping_patience": None},
        "output": {"dir": "out"},
    }
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    path = folder / "tune.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run_tune(config: Path) -> TuneOutcome:
    return tune(config, console=Console(stderr=True), quiet=True)


def test_sft_on_a_memorisable_set_lowers_the_loss(evalkit_home: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    section = run_tune(write_config(tmp_path, tiny_model_dir)).section
    evals = [point.loss for point in section.eval_loss]
    assert section.steps == 8 and [point.step for point in section.eval_loss] == [2, 4, 6, 8]
    assert len(section.train_loss) == 8 and evals[-1] < 0.7 * evals[0]
    assert {verdict.name: verdict.verdict for verdict in section.verdicts}["consistent_improvement"] == "pass"


def test_the_training_run_and_its_losses_are_in_the_run_store(evalkit_home: Path, tmp_path: Path,
                                                              tiny_model_dir: Path) -> None:
    outcome = run_tune(write_config(tmp_path, tiny_model_dir))
    record = store.get_run(outcome.section.training_run)
    assert record.status == "finished" and record.suite == "tune:sft"
    logged = [json.loads(line) for line in (record.path / "losses.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["kind"] for row in logged].count("eval") == 4 and len(logged) == 12
    assert store.load_scorecard(record.run_id).training == outcome.section


def test_the_manifest_records_base_data_config_seed_versions_losses_and_verdicts(
        evalkit_home: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    outcome = run_tune(write_config(tmp_path, tiny_model_dir))
    manifest = json.loads(outcome.manifest_path.read_text(encoding="utf-8"))
    assert manifest["base_fingerprint"] == resolve(str(tiny_model_dir)).fingerprint
    assert manifest["fingerprint"] == resolve(str(tmp_path / "out" / "adapter")).fingerprint
    assert len(manifest["data"]["source_sha256"]) == 64 and manifest["data"]["train"]["examples"] == 9
    assert manifest["seed"] == 42 and manifest["config"]["training"]["learning_rate"] == 0.02
    assert {"trl", "peft", "transformers", "torch"} <= set(manifest["packages"])
    assert len(manifest["losses"]["eval"]) == 4 and len(manifest["curve_verdicts"]) == 5
    versions = list_versions()
    assert [version.status for version in versions] == ["registered"] and aliases() == {}
    assert versions[0].manifest == manifest


def test_the_adapter_names_its_base_so_evalkit_can_score_it(evalkit_home: Path, tmp_path: Path,
                                                            tiny_model_dir: Path) -> None:
    run_tune(write_config(tmp_path, tiny_model_dir))
    adapter = resolve(str(tmp_path / "out" / "adapter"))
    config = json.loads((tmp_path / "out" / "adapter" / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["base_model_name_or_path"] == str(tiny_model_dir.resolve())
    assert adapter.kind == "adapter" and adapter.base is not None
    assert adapter.base.fingerprint == resolve(str(tiny_model_dir)).fingerprint


def test_dpo_trains_an_adapter_on_preference_pairs(evalkit_home: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    section = run_tune(write_config(tmp_path, tiny_model_dir, method="dpo", training={"learning_rate": 0.005})).section
    assert section.method == "dpo" and section.steps == 8
    assert section.eval_loss[-1].loss < section.eval_loss[0].loss  # type: ignore[operator]


def test_data_that_fails_its_preflight_stops_the_run_before_training(evalkit_home: Path, tmp_path: Path,
                                                                     tiny_model_dir: Path) -> None:
    rows = [*memorisable_rows(), {"prompt": "Who to call?", "completion": "Call Ana at +1 415 555 0132."}]
    with pytest.raises(TuneError, match=r"failed its preflight with 1 error finding\(s\), first: 1 line with "
                                        r"personal information .* \(line 13\)"):
        run_tune(write_config(tmp_path, tiny_model_dir, rows=rows))
    assert store.list_runs(include_unfinished=True) == [] and not (tmp_path / "out").exists()


def test_an_output_folder_that_holds_an_adapter_is_refused(evalkit_home: Path, tmp_path: Path,
                                                           tiny_model_dir: Path) -> None:
    (tmp_path / "out" / "adapter").mkdir(parents=True)
    with pytest.raises(TuneError, match="already exists"):
        run_tune(write_config(tmp_path, tiny_model_dir))
