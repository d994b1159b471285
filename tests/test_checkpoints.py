"""Checkpoint specs: `evalkit.checkpoints.resolve` turns each kind of spec into a fingerprinted Checkpoint (or one
clear CheckpointError), and `load` turns a resolved checkpoint into an lm-eval model that computes what the
weights say."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch

from evalkit.checkpoints import embedded_gguf_path, load, resolve
from evalkit.errors import CheckpointError
from tests.tiny import save_random_lora

WEIGHTS = "model.safetensors"


@pytest.fixture(scope="module")
def tiny_adapter_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter with random (non-zero) weights on the tiny model, its config naming the tiny folder."""
    return save_random_lora(tiny_model_dir, tmp_path_factory.mktemp("tiny-adapter"), base_spec=str(tiny_model_dir),
                            seed=1)


def _set_adapter_base(folder: Path, base: str) -> None:
    config_path = folder / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base
    config_path.write_text(json.dumps(config), encoding="utf-8")


def _copy(folder: Path, target: Path) -> Path:
    return Path(shutil.copytree(folder, target))


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


# --- local Hugging Face folders -------------------------------------------------------------------------------


def test_local_folder_resolves_to_hf_dir_with_sha256_fingerprint(evalkit_home: Path, tiny_model_dir: Path) -> None:
    checkpoint = resolve(str(tiny_model_dir))

    assert checkpoint.kind == "hf_dir"
    assert checkpoint.location == str(tiny_model_dir.resolve())
    assert checkpoint.fingerprint.startswith("sha256:")
    assert len(checkpoint.fingerprint.removeprefix("sha256:")) == 64


def test_fingerprint_is_stable_across_calls(evalkit_home: Path, tiny_model_dir: Path) -> None:
    assert resolve(str(tiny_model_dir)).fingerprint == resolve(str(tiny_model_dir)).fingerprint


def test_fingerprint_depends_on_content_not_location(evalkit_home: Path, tiny_model_dir: Path,
                                                     tmp_path: Path) -> None:
    copy = _copy(tiny_model_dir, tmp_path / "elsewhere")

    assert resolve(str(copy)).fingerprint == resolve(str(tiny_model_dir)).fingerprint


def test_fingerprint_changes_when_one_weight_byte_changes(evalkit_home: Path, tiny_model_dir: Path,
                                                          tmp_path: Path) -> None:
    copy = _copy(tiny_model_dir, tmp_path / "model")
    before = resolve(str(copy)).fingerprint
    weights = copy / WEIGHTS
    stat = weights.stat()

    _flip_last_byte(weights)
    # An edit moves mtime; set it explicitly so a filesystem with coarse timestamps cannot hide the change.
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert resolve(str(copy)).fingerprint != before


def test_file_hash_cache_records_path_size_and_mtime(evalkit_home: Path, tiny_model_dir: Path) -> None:
    weights = (tiny_model_dir / WEIGHTS).resolve()
    resolve(str(tiny_model_dir))

    with sqlite3.connect(evalkit_home / "cache" / "file_hashes.sqlite") as connection:
        row = connection.execute("SELECT size, mtime_ns, sha256 FROM file_hashes WHERE path = ?",
                                 (str(weights),)).fetchone()

    stat = weights.stat()
    assert row == (stat.st_size, stat.st_mtime_ns, hashlib.sha256(weights.read_bytes()).hexdigest())


def test_file_hash_cache_is_reused_while_size_and_mtime_are_unchanged(evalkit_home: Path, tiny_model_dir: Path,
                                                                      tmp_path: Path) -> None:
    copy = _copy(tiny_model_dir, tmp_path / "model")
    before = resolve(str(copy)).fingerprint
    weights = copy / WEIGHTS
    stat = weights.stat()

    # Same size, original mtime restored: only a fingerprint computed from the cached hash stays the same.
    _flip_last_byte(weights)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    assert resolve(str(copy)).fingerprint == before


def test_config_without_weights_is_rejected(evalkit_home: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "config-only"
    folder.mkdir()
    shutil.copy(tiny_model_dir / "config.json", folder / "config.json")

    with pytest.raises(CheckpointError, match="no weight files"):
        resolve(str(folder))


def test_directory_that_is_not_a_model_is_rejected(evalkit_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not a model", encoding="utf-8")

    with pytest.raises(CheckpointError, match="not a model folder.*config.json"):
        resolve(str(folder))


def test_nonexistent_path_is_rejected(evalkit_home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such-model"

    with pytest.raises(CheckpointError, match="does not exist"):
        resolve(str(missing))


def test_file_that_is_not_gguf_is_rejected(evalkit_home: Path, tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\0" * 64)

    with pytest.raises(CheckpointError, match=r"not a \.gguf"):
        resolve(str(weights))


def test_unknown_bare_word_is_rejected(evalkit_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(CheckpointError, match="'smollm3'.*smollm2"):
        resolve("smollm3")


def test_hub_id_offline_is_rejected_naming_the_cache(evalkit_home: Path) -> None:
    with pytest.raises(CheckpointError, match="someorg/somemodel") as caught:
        resolve("someorg/somemodel")

    assert "cache" in str(caught.value)


# --- GGUF files and the embedded model ------------------------------------------------------------------------


def test_smollm2_resolves_to_the_embedded_gguf_without_converting(evalkit_home: Path) -> None:
    gguf = embedded_gguf_path()

    checkpoint = resolve("smollm2")

    assert checkpoint.kind == "embedded"
    assert checkpoint.location == str(gguf)
    assert checkpoint.fingerprint == f"sha256:{hashlib.sha256(gguf.read_bytes()).hexdigest()}"
    assert not (evalkit_home / "models").exists()


def test_gguf_path_resolves_to_kind_gguf_with_the_embedded_fingerprint(evalkit_home: Path) -> None:
    checkpoint = resolve(str(embedded_gguf_path()))

    assert checkpoint.kind == "gguf"
    assert checkpoint.fingerprint == resolve("smollm2").fingerprint


def test_corrupt_gguf_is_rejected(evalkit_home: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "x.gguf"
    corrupt.write_bytes(os.urandom(100_000))

    with pytest.raises(CheckpointError, match="not a readable GGUF"):
        resolve(str(corrupt))


def test_truncated_gguf_is_rejected(evalkit_home: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.gguf"
    with embedded_gguf_path().open("rb") as handle:
        truncated.write_bytes(handle.read(1 << 20))

    with pytest.raises(CheckpointError, match="not a readable GGUF"):
        resolve(str(truncated))


# --- PEFT adapters --------------------------------------------------------------------------------------------


def test_adapter_resolves_with_its_base_and_its_own_fingerprint(evalkit_home: Path, tiny_adapter_dir: Path,
                                                                tiny_model_dir: Path) -> None:
    checkpoint = resolve(str(tiny_adapter_dir))

    assert checkpoint.kind == "adapter"
    assert checkpoint.base is not None
    assert checkpoint.base.kind == "hf_dir"
    assert checkpoint.base.fingerprint == resolve(str(tiny_model_dir)).fingerprint
    assert checkpoint.fingerprint.startswith("sha256:")
    assert checkpoint.fingerprint != checkpoint.base.fingerprint


def test_adapter_on_smollm2_resolves_with_embedded_base(evalkit_home: Path, tiny_adapter_dir: Path,
                                                        tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "adapter")
    _set_adapter_base(adapter, "smollm2")

    checkpoint = resolve(str(adapter))

    assert checkpoint.kind == "adapter"
    assert checkpoint.base is not None
    assert checkpoint.base.kind == "embedded"


def test_adapter_fingerprint_depends_on_its_base(evalkit_home: Path, tiny_adapter_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "adapter")
    _set_adapter_base(adapter, "smollm2")

    assert resolve(str(adapter)).fingerprint != resolve(str(tiny_adapter_dir)).fingerprint


def test_adapter_with_missing_base_is_rejected_naming_the_base(evalkit_home: Path, tiny_adapter_dir: Path,
                                                               tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "adapter")
    missing_base = str(tmp_path / "gone" / "base-model")
    _set_adapter_base(adapter, missing_base)

    with pytest.raises(CheckpointError, match="base_model_name_or_path") as caught:
        resolve(str(adapter))

    assert missing_base in str(caught.value)


# --- loading --------------------------------------------------------------------------------------------------


def test_load_folder_gives_hflm_whose_loglikelihood_matches_torch(evalkit_home: Path, tiny_model_dir: Path) -> None:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    context, continuation = "The cat sat on the", " mat."
    loaded = load(resolve(str(tiny_model_dir)), device="cpu", batch_size=1)
    [(loglikelihood, _)] = loaded.lm.loglikelihood(
        [Instance("loglikelihood", {}, (context, continuation), 0)], disable_tqdm=True)

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    context_ids = tokenizer(context, add_special_tokens=False).input_ids
    all_ids = tokenizer(context + continuation, add_special_tokens=False).input_ids
    with torch.no_grad():
        logprobs = model(torch.tensor([all_ids])).logits[0].log_softmax(-1)
    expected = sum(logprobs[position - 1, all_ids[position]].item()
                   for position in range(len(context_ids), len(all_ids)))

    assert isinstance(loaded.lm, HFLM)
    assert loaded.backend == "evalkit-prefix"
    assert loglikelihood == pytest.approx(expected, rel=1e-5)


def _logits(model: torch.nn.Module, tokenizer: object) -> torch.Tensor:
    ids = tokenizer("Question: What is the capital of France? Answer:", return_tensors="pt").input_ids
    with torch.no_grad():
        return model(ids).logits


def test_load_adapter_gives_logits_different_from_base(evalkit_home: Path, tiny_adapter_dir: Path,
                                                       tiny_model_dir: Path) -> None:
    base = load(resolve(str(tiny_model_dir)), device="cpu")
    adapted = load(resolve(str(tiny_adapter_dir)), device="cpu")

    assert not torch.allclose(_logits(adapted.model, adapted.tokenizer), _logits(base.model, base.tokenizer),
                              atol=1e-4)


def test_load_adapter_equals_peft_applied_to_base(evalkit_home: Path, tiny_adapter_dir: Path,
                                                  tiny_model_dir: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapted = load(resolve(str(tiny_adapter_dir)), device="cpu")
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32),
                                          tiny_adapter_dir).eval()

    torch.testing.assert_close(_logits(adapted.model, adapted.tokenizer), _logits(reference, adapted.tokenizer),
                               atol=1e-5, rtol=1e-5)
