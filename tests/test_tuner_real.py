"""Real training of the embedded SmolLM2-135M on the CPU, a few steps each: SFT with LoRA lowers the loss on a
memorisable set, DPO learns its preference pairs, DoRA trains once, and a passing policy promotes the adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_tuner_promotion import PASSING, promote_config
from tests.test_tuner_train import run_tune, write_config
from tuner.registry import aliases

pytestmark = pytest.mark.slow
EXAMPLE_DATA = Path(__file__).resolve().parent.parent / "examples" / "tuner" / "data"
FEW_STEPS = {"max_steps": 8, "batch_size": 2, "learning_rate": 1e-3, "eval_steps": 2, "max_length": 64}


def example_rows(name: str, count: int) -> list[dict[str, str]]:
    lines = (EXAMPLE_DATA / name).read_text(encoding="utf-8").splitlines()[:count]
    return [json.loads(line) for line in lines]


def test_sft_with_lora_lowers_the_loss_of_the_embedded_model(shared_home: Path, tmp_path: Path) -> None:
    section = run_tune(write_config(tmp_path, "smollm2", rows=example_rows("sft.jsonl", 12),
                                    training=FEW_STEPS)).section
    first, last = section.eval_loss[0].loss, section.eval_loss[-1].loss
    print(f"smollm2 SFT LoRA eval loss {first:.4f} -> {last:.4f}; train {section.summary}")
    assert section.adapter == "lora" and last < first  # type: ignore[operator]


def test_dpo_learns_its_preference_pairs(shared_home: Path, tmp_path: Path) -> None:
    section = run_tune(write_config(tmp_path, "smollm2", method="dpo", rows=example_rows("dpo.jsonl", 10),
                                    training={**FEW_STEPS, "max_steps": 4, "learning_rate": 5e-4})).section
    print(f"smollm2 DPO eval loss {[point.loss for point in section.eval_loss]}")
    assert section.method == "dpo" and section.eval_loss[-1].loss < 0.6931  # type: ignore[operator]


def test_dora_trains_once(shared_home: Path, tmp_path: Path) -> None:
    section = run_tune(write_config(tmp_path, "smollm2", rows=example_rows("sft.jsonl", 12), adapter={"dora": True},
                                    training={**FEW_STEPS, "max_steps": 4})).section
    config = json.loads((tmp_path / "out" / "adapter" / "adapter_config.json").read_text(encoding="utf-8"))
    print(f"smollm2 SFT DoRA eval loss {[point.loss for point in section.eval_loss]}")
    assert section.adapter == "dora" and config["use_dora"] is True
    assert section.eval_loss[-1].loss < section.eval_loss[0].loss  # type: ignore[operator]


def test_a_passing_policy_promotes_the_trained_adapter(shared_home: Path, tmp_path: Path) -> None:
    outcome = run_tune(promote_config(tmp_path, "smollm2", PASSING, rows=example_rows("sft.jsonl", 12),
                                      training=FEW_STEPS))
    (promotion,) = outcome.promotions
    assert promotion.gate is not None and promotion.gate.verdict == "pass", promotion.gate
    assert aliases()["production"] == promotion.version_id
