"""The tune config: every default is spelled out in examples/tuner/sft.yaml, the examples validate, mistakes are one
line naming the field, relative paths follow the config file, and QLoRA without CUDA and bitsandbytes is one clear
error."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tuner.config import TuneConfig, load_config
from tuner.errors import TuneError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "tuner"
NO_DEFAULT = {("data", "path"), ("output", "dir"), ("promotion", "policy")}


def leaves(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    found: dict[tuple[str, ...], Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            found.update(leaves(value, (*prefix, key)))
        else:
            found[(*prefix, key)] = value
    return found


def test_the_sft_example_spells_out_every_field_with_its_default() -> None:
    shown = leaves(yaml.safe_load((EXAMPLES / "sft.yaml").read_text(encoding="utf-8")))
    defaults = leaves(TuneConfig(data={"path": "x.jsonl"}).model_dump(mode="json"))  # type: ignore[arg-type]
    assert set(shown) == set(defaults)
    differing = {key for key in shown if shown[key] != defaults[key] and key not in NO_DEFAULT}
    assert differing == set()


@pytest.mark.parametrize("name", ["sft", "dpo", "qlora"])
def test_the_examples_validate_with_paths_relative_to_their_file(name: str) -> None:
    config = load_config(EXAMPLES / f"{name}.yaml")
    assert config.data.path.is_file() and config.promotion.policy is not None and config.promotion.policy.is_file()
    assert config.output.dir == EXAMPLES / "out" / name


def test_an_unknown_field_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "tune.yaml"
    path.write_text("data: {path: d.jsonl}\nadapter: {rank: 8}\n", encoding="utf-8")
    with pytest.raises(TuneError, match=r"invalid at adapter\.rank: unknown field"):
        load_config(path)


def test_evaluating_by_steps_needs_eval_steps(tmp_path: Path) -> None:
    path = tmp_path / "tune.yaml"
    path.write_text("data: {path: d.jsonl}\ntraining: {eval_strategy: steps}\n", encoding="utf-8")
    with pytest.raises(TuneError, match="eval_strategy: steps needs eval_steps"):
        load_config(path)


def test_a_local_base_path_is_relative_to_the_config(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny").symlink_to(tiny_model_dir)
    path = tmp_path / "tune.yaml"
    path.write_text("base: models/tiny\ndata: {path: d.jsonl}\n", encoding="utf-8")
    config = load_config(path)
    assert config.base == str(tmp_path / "models" / "tiny") and config.data.path == tmp_path / "d.jsonl"


def test_qlora_without_cuda_and_bitsandbytes_is_one_clear_error(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None:
        pytest.skip("this machine can run QLoRA")
    path = tmp_path / "tune.yaml"
    path.write_text("data: {path: d.jsonl}\nadapter: {qlora: true}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "evalkit", "tune", str(path)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2 and result.stdout == ""
    line = result.stderr.strip()
    assert line.startswith("error: qlora: true needs a CUDA GPU and bitsandbytes, but ") and "\n" not in line
    assert "set adapter.qlora: false" in line
