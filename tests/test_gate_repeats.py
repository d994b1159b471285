"""``repeats: k`` for stochastic scorers: the gate reads k runs per model and calls a decision that rests on a
difference within the runs' spread inconclusive."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.test_gate_cli import run_gate_cli
from tests.test_gate_synthetic import TASK, write_binary_run


def policy(tmp_path: Path, check: str, repeats: int = 3) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(f"name: repeats\nrepeats: {repeats}\nchecks:\n  - {check}\n", encoding="utf-8")
    return path


def model_runs(tmp_path: Path, name: str, accuracies: list[float], n: int = 1000) -> str:
    """One run per accuracy, items shuffled differently: a model whose score moves from run to run."""
    folders = []
    for index, accuracy in enumerate(accuracies):
        right = round(accuracy * n)
        outcomes = list(np.random.default_rng(index).permutation([1] * right + [0] * (n - right)))
        folders.append(str(write_binary_run(tmp_path / f"{name}-{index}", [int(value) for value in outcomes]).parent))
    return ",".join(folders)


def gate(tmp_path: Path, home: Path, policy_file: Path, *args: str) -> tuple[int, dict]:
    out = tmp_path / "gate.json"
    result = run_gate_cli(home, "--policy", str(policy_file), *args, "--json", str(out), "--quiet")
    return result.returncode, (json.loads(out.read_text()) if out.is_file() else {"stderr": result.stderr})


def test_an_absolute_miss_within_the_run_spread_is_inconclusive(tmp_path: Path, evalkit_home: Path) -> None:
    check = f'{{name: floor, kind: absolute, metric: {TASK}.acc, op: ">=", value: 0.52}}'
    code, result = gate(tmp_path, evalkit_home, policy(tmp_path, check), "--candidate",
                        model_runs(tmp_path, "noisy", [0.50, 0.58, 0.44]))
    found = result["checks"][0]
    assert code == 1 and found["verdict"] == "inconclusive" and found["evidence"]["within_noise"] is True
    assert found["evidence"]["repeats"] == 3 and found["evidence"]["run_spread"] > 0.05


def test_an_absolute_miss_beyond_the_run_spread_still_fails(tmp_path: Path, evalkit_home: Path) -> None:
    check = f'{{name: floor, kind: absolute, metric: {TASK}.acc, op: ">=", value: 0.52}}'
    code, result = gate(tmp_path, evalkit_home, policy(tmp_path, check), "--candidate",
                        model_runs(tmp_path, "steady", [0.40, 0.41, 0.40]))
    assert code == 1 and result["checks"][0]["verdict"] == "fail"
    assert result["checks"][0]["evidence"]["within_noise"] is False


def test_a_relative_fail_within_noise_becomes_inconclusive(tmp_path: Path, evalkit_home: Path) -> None:
    check = f"{{name: no-drop, kind: relative, metric: {TASK}.acc, max_drop: 0.01}}"
    code, result = gate(tmp_path, evalkit_home, policy(tmp_path, check), "--candidate",
                        model_runs(tmp_path, "cand", [0.64, 0.74, 0.70]), "--baseline",
                        model_runs(tmp_path, "base", [0.70, 0.62, 0.78]))
    found = result["checks"][0]
    assert found["verdict"] == "inconclusive" and "run-to-run noise" in found["reason"] and code == 1


def test_the_number_of_runs_must_match_the_repeats(tmp_path: Path, evalkit_home: Path) -> None:
    check = f'{{name: floor, kind: absolute, metric: {TASK}.acc, op: ">=", value: 0.5}}'
    code, result = gate(tmp_path, evalkit_home, policy(tmp_path, check), "--candidate",
                        model_runs(tmp_path, "two", [0.6, 0.6]))
    assert code == 2 and "repeats: 3" in result["stderr"]
