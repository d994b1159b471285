"""Bad input to `evalkit score`, through the real CLI in a subprocess: each case exits with code 2, prints exactly
one `error: ` line on stderr that names the problem and the fix, prints nothing on stdout, and records no run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.checkpoints import embedded_gguf_path
from evalkit.cli import app

TASK = "evalkit_boolq"


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `evalkit` entry point in a fresh process with ``home`` as EVALKIT_HOME, offline."""
    env = {**os.environ, "EVALKIT_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", "from evalkit.cli import run; run()", *args],
                          check=False, capture_output=True, text=True, env=env, timeout=300)


def assert_bad_input(result: subprocess.CompletedProcess[str], home: Path, *fragments: str) -> str:
    """Check the bad-input contract and that the error line contains every fragment; return the line."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, f"expected one stderr line, got:\n{result.stderr}"
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""
    listed = CliRunner().invoke(app, ["runs", "list", "--all", "--json"], env={"EVALKIT_HOME": str(home)})
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == []
    runs = home / "runs"
    assert not runs.exists() or not any(runs.iterdir())
    return lines[0]


def test_path_that_does_not_exist(evalkit_home: Path, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-model")

    result = run_cli(evalkit_home, "score", missing, "--tasks", TASK)

    assert_bad_input(result, evalkit_home, missing, "does not exist", "check the path")


def test_directory_that_is_not_a_model(evalkit_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("hello", encoding="utf-8")

    result = run_cli(evalkit_home, "score", str(folder), "--tasks", TASK)

    assert_bad_input(result, evalkit_home, str(folder), "not a model folder", "pass a Hugging Face model folder")


def test_corrupt_gguf(evalkit_home: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "x.gguf"
    corrupt.write_bytes(os.urandom(100_000))

    result = run_cli(evalkit_home, "score", str(corrupt), "--tasks", TASK)

    assert_bad_input(result, evalkit_home, str(corrupt), "not a readable GGUF", "re-download")


def test_truncated_gguf(evalkit_home: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.gguf"
    with embedded_gguf_path().open("rb") as handle:
        truncated.write_bytes(handle.read(1 << 20))

    result = run_cli(evalkit_home, "score", str(truncated), "--tasks", TASK)

    assert_bad_input(result, evalkit_home, str(truncated), "not a readable GGUF", "re-download")


def test_adapter_whose_base_cannot_be_found(evalkit_home: Path, tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    missing_base = str(tmp_path / "gone" / "base-model")
    (adapter / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "base_model_name_or_path": missing_base, "r": 4, "target_modules": ["q_proj"]}),
        encoding="utf-8")

    result = run_cli(evalkit_home, "score", str(adapter), "--tasks", TASK)

    assert_bad_input(result, evalkit_home, missing_base, "set base_model_name_or_path")


def test_unknown_task_suggests_the_closest_names(evalkit_home: Path, tiny_model_dir: Path) -> None:
    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--tasks", "evalkit_hellaswg")

    assert_bad_input(result, evalkit_home, "evalkit_hellaswg", "did you mean", "evalkit_hellaswag")


def test_unknown_suite_suggests_the_closest_name(evalkit_home: Path, tiny_model_dir: Path) -> None:
    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--suite", "quik")

    assert_bad_input(result, evalkit_home, "'quik'", "did you mean quick")


def test_task_yaml_with_invalid_syntax(evalkit_home: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("task: broken\ndoc_to_text: [unclosed\n", encoding="utf-8")

    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--tasks", str(broken))

    assert_bad_input(result, evalkit_home, str(broken), "not valid YAML", "fix its syntax")


def test_task_yaml_without_a_task_key(evalkit_home: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    keyless = tmp_path / "keyless.yaml"
    keyless.write_text("doc_to_text: '{{question}}'\noutput_type: multiple_choice\n", encoding="utf-8")

    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--tasks", str(keyless))

    assert_bad_input(result, evalkit_home, str(keyless), "no 'task' or 'group' key", "add `task:")


def test_task_yaml_with_an_invalid_field_value(evalkit_home: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "items.jsonl"
    data.write_text('{"question": "Is water wet?", "label": 1}\n', encoding="utf-8")
    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text(
        "task: misspelt_task\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\noutput_type: multiple_choise\ndoc_to_text: '{{question}}'\n"
        "doc_to_target: label\ndoc_to_choice: ['no', 'yes']\n", encoding="utf-8")

    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--tasks", str(misspelt))

    assert_bad_input(result, evalkit_home, "multiple_choise", "fix the task definition")


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_limit_that_is_not_positive(evalkit_home: Path, tiny_model_dir: Path, limit: str) -> None:
    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--tasks", TASK, "--limit", limit)

    assert_bad_input(result, evalkit_home, f"--limit {limit}", ">= 1")


def test_dataset_that_cannot_be_fetched_offline(evalkit_home: Path, tiny_model_dir: Path) -> None:
    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--tasks", "arc_easy")

    assert_bad_input(result, evalkit_home, "'arc_easy'", "cannot be read", "download them")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_endpoint_that_does_not_answer(evalkit_home: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"

    result = run_cli(evalkit_home, "score", f"openai:m@{url}", "--tasks", "evalkit_gsm8k")

    assert_bad_input(result, evalkit_home, url, "did not answer", "start the server")


def test_suite_and_tasks_both_given(evalkit_home: Path, tiny_model_dir: Path) -> None:
    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--suite", "quick", "--tasks", TASK)

    assert_bad_input(result, evalkit_home, "exactly one of --suite or --tasks")


def test_neither_suite_nor_tasks_given(evalkit_home: Path, tiny_model_dir: Path) -> None:
    result = run_cli(evalkit_home, "score", str(tiny_model_dir))

    assert_bad_input(result, evalkit_home, "exactly one of --suite or --tasks")


def test_chat_template_requested_for_a_model_without_one(evalkit_home: Path, tiny_model_dir: Path) -> None:
    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--tasks", "evalkit_arc_easy", "--limit", "1",
                     "--apply-chat-template")

    assert_bad_input(result, evalkit_home, "no chat template", "drop the flag")


def test_model_folder_with_truncated_weights(evalkit_home: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:3000])

    result = run_cli(evalkit_home, "score", str(broken), "--tasks", TASK, "--limit", "1")

    assert_bad_input(result, evalkit_home, "would not load", "weights are complete")


def test_device_that_is_not_available(evalkit_home: Path, tiny_model_dir: Path) -> None:
    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--tasks", TASK, "--limit", "1",
                     "--device", "cuda")

    assert_bad_input(result, evalkit_home, "--device cuda", "--device cpu")


def test_ppl_data_that_is_not_utf8(evalkit_home: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    binary = tmp_path / "texts.txt"
    binary.write_bytes(b"\xff\xfe\x00broken")

    result = run_cli(evalkit_home, "score", str(tiny_model_dir), "--tasks", TASK, "--limit", "1",
                     "--ppl-data", str(binary))

    assert_bad_input(result, evalkit_home, "cannot be read as UTF-8", "UTF-8 JSONL or text file")
