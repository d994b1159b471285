"""``evalkit gate`` through the real entry point in a subprocess: exit codes 0 pass / 1 fail / 2 error, the JSON,
Markdown and JUnit files, the GitHub job summary, the stored result, and ``evalkit gate explain``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from evalkit.gate import GateResult
from tests.test_gate_synthetic import TASK, paired_outcomes, write_binary_run

POLICY = f"""\
name: cli-policy
checks:
  - {{name: floor, kind: absolute, metric: {TASK}.acc, op: ">=", value: 0.5}}
  - {{name: no-regression, kind: relative, metric: {TASK}.acc, max_drop: 0.05}}
  - {{name: soft-floor, kind: absolute, metric: {TASK}.acc, op: ">=", value: 0.9, severity: warn}}
  - {{name: present, kind: tasks_present}}
"""


def run_gate_cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``evalkit gate ARGS`` in a fresh process with ``home`` as EVALKIT_HOME."""
    environment = {key: value for key, value in os.environ.items() if key != "GITHUB_STEP_SUMMARY"}
    environment.update({"EVALKIT_HOME": str(home), **(env or {})})
    return subprocess.run([sys.executable, "-c", "from evalkit.cli import run; run()", "gate", *args],
                          check=False, capture_output=True, text=True, env=environment, timeout=120)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def runs(tmp_path: Path, n: int, *, gains: int = 0, losses: int = 0) -> tuple[str, str]:
    baseline, candidate = paired_outcomes(n, accuracy=0.6, gains=gains, losses=losses)
    return (str(write_binary_run(tmp_path / "candidate", candidate).parent),
            str(write_binary_run(tmp_path / "baseline", baseline)))


def outputs(tmp_path: Path) -> list[str]:
    return ["--json", str(tmp_path / "out" / "gate.json"), "--markdown", str(tmp_path / "out" / "gate.md"),
            "--junit", str(tmp_path / "out" / "junit.xml")]


def test_passing_gate_exits_0_and_writes_all_four_outputs(tmp_path: Path, evalkit_home: Path, policy: Path) -> None:
    candidate, baseline = runs(tmp_path, 1000)
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")

    result = run_gate_cli(evalkit_home, "--policy", str(policy), "--candidate", candidate, "--baseline", baseline,
                          *outputs(tmp_path), env={"GITHUB_STEP_SUMMARY": str(summary)})

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("evalkit gate: PASS: 4 checks, 3 pass, 1 fail, 0 inconclusive; 0 blocking")
    gate = GateResult.model_validate_json((tmp_path / "out" / "gate.json").read_text(encoding="utf-8"))
    assert gate.verdict == "pass" and [check.name for check in gate.checks] == [
        "floor", "no-regression", "soft-floor", "present"]
    markdown = (tmp_path / "out" / "gate.md").read_text(encoding="utf-8")
    assert markdown.splitlines()[0] == "## ✅ evalkit gate: PASS"
    assert "| ❌ fail (warn only) | soft-floor | warn |" in markdown
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + markdown + "\n"
    assert (evalkit_home / "gates" / f"{gate.gate_id}.json").is_file()
    assert gate.gate_id in result.stdout


def test_junit_has_one_testcase_per_check_red_exactly_when_the_check_blocks(tmp_path: Path, evalkit_home: Path,
                                                                            policy: Path) -> None:
    candidate, baseline = runs(tmp_path, 20, gains=2, losses=2)

    result = run_gate_cli(evalkit_home, "--policy", str(policy), "--candidate", candidate, "--baseline", baseline,
                          *outputs(tmp_path))

    assert result.returncode == 1, result.stderr
    root = ElementTree.parse(tmp_path / "out" / "junit.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert list(cases) == ["floor", "no-regression", "soft-floor", "present"]
    assert [child.tag for child in cases["floor"] if child.tag != "system-out"] == []
    [error] = cases["no-regression"].findall("error")
    assert error.get("type") == "inconclusive" and "too few items" in error.get("message", "")
    [skipped] = cases["soft-floor"].findall("skipped")
    assert skipped.get("message", "").startswith("fail (warn only)")
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("4", "0", "1", "1")
    assert "p_noninferiority: " in (cases["no-regression"].findtext("system-out") or "")


def test_regression_exits_1_with_a_junit_failure(tmp_path: Path, evalkit_home: Path, policy: Path) -> None:
    candidate, baseline = runs(tmp_path, 1000, gains=20, losses=120)

    result = run_gate_cli(evalkit_home, "--policy", str(policy), "--candidate", candidate, "--baseline", baseline,
                          *outputs(tmp_path))

    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("evalkit gate: FAIL")
    root = ElementTree.parse(tmp_path / "out" / "junit.xml").getroot()
    failures = {case.get("name"): case.find("failure") for case in root.iter("testcase")}
    assert failures["no-regression"] is not None and failures["no-regression"].get("type") == "fail"
    assert (tmp_path / "out" / "gate.md").read_text(encoding="utf-8").startswith("## ❌ evalkit gate: FAIL")


def test_explain_prints_each_checks_evidence(tmp_path: Path, evalkit_home: Path, policy: Path) -> None:
    candidate, baseline = runs(tmp_path, 1000, gains=100, losses=100)
    assert run_gate_cli(evalkit_home, "--policy", str(policy), "--candidate", candidate, "--baseline", baseline,
                        "--quiet").returncode == 0
    [stored] = (evalkit_home / "gates").glob("*.json")

    result = run_gate_cli(evalkit_home, "explain", stored.stem[:22])

    assert result.returncode == 0, result.stderr
    for fragment in ("no-regression (relative, block): pass", "method: mcnemar-exact+newcombe", "gains: 100",
                     "losses: 100", "n: 1000", "p_value: 1.0", "ci_low: -0.0", "soft-floor (absolute, warn): fail"):
        assert fragment in result.stdout


def assert_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_unknown_metric_exits_2_listing_the_known_metrics_and_writes_nothing(tmp_path: Path, evalkit_home: Path,
                                                                               ) -> None:
    candidate, baseline = runs(tmp_path, 50)
    policy = tmp_path / "unknown.yaml"
    policy.write_text("name: p\nchecks:\n  - {name: m, kind: relative, metric: evalkit_mmlu.acc, max_drop: 0.1}\n",
                      encoding="utf-8")

    result = run_gate_cli(evalkit_home, "--policy", str(policy), "--candidate", candidate, "--baseline", baseline,
                          *outputs(tmp_path))

    assert_error(result, "'evalkit_mmlu.acc' is not in the candidate scorecard", f"known metrics: {TASK}.acc")
    assert not (tmp_path / "out").exists() and not (evalkit_home / "gates").exists()


def test_mismatched_task_hashes_exit_2(tmp_path: Path, evalkit_home: Path, policy: Path) -> None:
    baseline, candidate = paired_outcomes(50, accuracy=0.6)
    candidate_run = write_binary_run(tmp_path / "candidate", candidate, data_sha256="e" * 64)
    baseline_run = write_binary_run(tmp_path / "baseline", baseline)

    result = run_gate_cli(evalkit_home, "--policy", str(policy), "--candidate", str(candidate_run), "--baseline",
                          str(baseline_run))

    assert_error(result, f"task {TASK} was scored differently in candidate and baseline", "data_sha256",
                 "score both with the same suite and settings")


def test_invalid_policy_exits_2_naming_the_field(tmp_path: Path, evalkit_home: Path) -> None:
    candidate, _ = runs(tmp_path, 10)
    policy = tmp_path / "bad.yaml"
    policy.write_text("name: p\nchecks:\n  - {name: d, kind: relative, metric: t.acc, max_drop: -0.1}\n",
                      encoding="utf-8")

    assert_error(run_gate_cli(evalkit_home, "--policy", str(policy), "--candidate", candidate),
                 "checks[0] (d).max_drop")


@pytest.mark.parametrize("arguments", [[], ["--score", "smollm2"]])
def test_candidate_and_score_are_exclusive_and_one_is_required(tmp_path: Path, evalkit_home: Path, policy: Path,
                                                               arguments: list[str]) -> None:
    candidate, _ = runs(tmp_path, 10)
    args = ["--policy", str(policy), *arguments]
    if arguments:
        args += ["--candidate", candidate]
    assert_error(run_gate_cli(evalkit_home, *args), "give exactly one of --candidate")


def test_score_without_a_suite_in_the_policy_exits_2(tmp_path: Path, evalkit_home: Path, policy: Path) -> None:
    assert_error(run_gate_cli(evalkit_home, "--policy", str(policy), "--score", "smollm2"),
                 "names no suite, so --score does not know what to run")


def test_unknown_run_id_exits_2(tmp_path: Path, evalkit_home: Path, policy: Path) -> None:
    assert_error(run_gate_cli(evalkit_home, "--policy", str(policy), "--candidate", "no-such-run"),
                 "no finished run 'no-such-run'")


def test_json_output_is_the_stored_result(tmp_path: Path, evalkit_home: Path, policy: Path) -> None:
    candidate, baseline = runs(tmp_path, 200)
    run_gate_cli(evalkit_home, "--policy", str(policy), "--candidate", candidate, "--baseline", baseline, "--json",
                 str(tmp_path / "gate.json"), "--quiet")
    written = json.loads((tmp_path / "gate.json").read_text(encoding="utf-8"))
    stored = json.loads((evalkit_home / "gates" / f"{written['gate_id']}.json").read_text(encoding="utf-8"))
    assert written == stored
    assert written["candidate"]["source"] == candidate and written["baseline"]["run_id"] == "baseline"
