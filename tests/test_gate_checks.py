"""Gate verdicts on synthetic runs whose answer is known: relative (non-inferiority) checks, absolute checks,
tasks_present, severities, ``on_inconclusive``, Holm, and everything the gate must refuse (fail closed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit import store
from evalkit.errors import GateError
from evalkit.gate import GateResult, load_policy, load_run, run_gate
from evalkit.scorecard import Metric
from tests.test_gate_synthetic import (
    TASK,
    item_rows,
    paired_outcomes,
    seed_metrics,
    task_result,
    write_binary_run,
    write_run,
)


def policy_file(folder: Path, *checks: str, **settings: object) -> Path:
    """A policy YAML with the given flow-style checks and top-level settings."""
    lines = ["name: test-policy", *(f"{key}: {json.dumps(value)}" for key, value in settings.items()), "checks:"]
    path = folder / "policy.yaml"
    path.write_text("\n".join(lines + [f"  - {check}" for check in checks]) + "\n", encoding="utf-8")
    return path


def relative(max_drop: float, **extra: object) -> str:
    fields = "".join(f", {key}: {json.dumps(value)}" for key, value in extra.items())
    return f"{{name: no-regression, kind: relative, metric: {TASK}.acc, max_drop: {max_drop}{fields}}}"


def gate(tmp_path: Path, candidate: Path, baseline: Path | None, *checks: str, **settings: object) -> GateResult:
    policy = load_policy(policy_file(tmp_path, *checks, **settings))
    return run_gate(policy, load_run(str(candidate)), load_run(str(baseline)) if baseline else None)


def pair(tmp_path: Path, n: int, *, accuracy: float = 0.6, gains: int = 0, losses: int = 0) -> tuple[Path, Path]:
    """Write a baseline and a candidate run; return ``(candidate, baseline)`` scorecard paths."""
    baseline, candidate = paired_outcomes(n, accuracy=accuracy, gains=gains, losses=losses)
    return write_binary_run(tmp_path / "candidate", candidate), write_binary_run(tmp_path / "baseline", baseline)


# --- relative checks -------------------------------------------------------------------------------------------


def test_candidate_identical_to_the_baseline_passes(tmp_path: Path) -> None:
    result = gate(tmp_path, *pair(tmp_path, 1000), relative(0.01))
    [check] = result.checks
    assert (result.verdict, result.exit_code, check.verdict) == ("pass", 0, "pass")
    assert (check.evidence.delta, check.evidence.gains, check.evidence.losses, check.evidence.n) == (0.0, 0, 0, 1000)


def test_same_accuracy_disagreeing_on_a_fifth_of_1000_items_passes_a_five_point_margin(tmp_path: Path) -> None:
    result = gate(tmp_path, *pair(tmp_path, 1000, gains=100, losses=100), relative(0.05))
    [check] = result.checks
    assert check.verdict == "pass" and result.verdict == "pass"
    assert check.evidence.ci_low > -0.05 and check.evidence.method == "mcnemar-exact+newcombe"


def test_same_accuracy_disagreeing_on_a_fifth_of_20_items_is_inconclusive_and_blocks(tmp_path: Path) -> None:
    result = gate(tmp_path, *pair(tmp_path, 20, gains=2, losses=2), relative(0.05))
    [check] = result.checks
    assert check.verdict == "inconclusive" and check.blocks
    assert check.evidence.ci_low < -0.05 < check.evidence.ci_high
    assert (result.verdict, result.exit_code) == ("fail", 1)


def test_inconclusive_does_not_block_when_the_policy_says_warn(tmp_path: Path) -> None:
    result = gate(tmp_path, *pair(tmp_path, 20, gains=2, losses=2), relative(0.05), on_inconclusive="warn")
    assert result.checks[0].verdict == "inconclusive" and not result.checks[0].blocks
    assert result.verdict == "pass"


def test_five_point_loss_on_1000_items_fails(tmp_path: Path) -> None:
    result = gate(tmp_path, *pair(tmp_path, 1000, gains=20, losses=70), relative(0.01))
    [check] = result.checks
    assert check.evidence.delta == pytest.approx(-0.05)
    assert check.verdict == "fail" and check.evidence.ci_high < -0.01
    assert (result.verdict, result.exit_code) == ("fail", 1)


def test_candidate_that_gains_passes(tmp_path: Path) -> None:
    result = gate(tmp_path, *pair(tmp_path, 1000, gains=70, losses=20), relative(0.01))
    assert result.checks[0].verdict == "pass" and result.checks[0].evidence.ci_low > 0


def test_continuous_scores_use_the_paired_bootstrap_and_agree_with_mcnemar_on_binary_data(tmp_path: Path) -> None:
    baseline, candidate = paired_outcomes(1000, accuracy=0.6, gains=20, losses=70)
    scored = []
    for label, keep_correct in (("binary", True), ("scores", False)):
        runs = []
        for role, outcomes in (("candidate", candidate), ("baseline", baseline)):
            rows = item_rows(TASK, outcomes)
            # Scores of 0.0/1.0 written as 0.001/0.999 are no longer binary: the bootstrap path runs.
            if not keep_correct:
                for row in rows:
                    row["score"], row["correct"] = min(max(row["score"], 0.001), 0.999), None
            scores = [row["score"] for row in rows]
            runs.append(write_run(tmp_path / label / role, [task_result(TASK, scores)], rows))
        scored.append(gate(tmp_path, runs[0], runs[1], relative(0.01)).checks[0])
    binary, bootstrap = scored
    assert (binary.evidence.method, bootstrap.evidence.method) == ("mcnemar-exact+newcombe", "paired-bootstrap")
    assert binary.verdict == bootstrap.verdict == "fail"


@pytest.mark.parametrize(("n", "verdict"), [(10, "inconclusive"), (40, "pass")])
def test_bootstrap_check_on_fewer_than_30_items_is_inconclusive_even_when_identical(tmp_path: Path, n: int,
                                                                                    verdict: str) -> None:
    scores = [0.1 + (index % 9) / 10 for index in range(n)]
    runs = [write_run(tmp_path / role, [task_result(TASK, scores)], item_rows(TASK, scores))
            for role in ("candidate", "baseline")]
    [check] = gate(tmp_path, *runs, relative(0.05)).checks
    assert (check.evidence.method, check.evidence.delta, check.verdict) == ("paired-bootstrap", 0.0, verdict)


def test_lower_is_better_metric_fails_when_it_rises_beyond_the_margin(tmp_path: Path) -> None:
    baseline = [2.0 + (index % 7) / 10 for index in range(400)]
    candidate = [value + 0.3 for value in baseline]
    runs = [write_run(tmp_path / role, [task_result(TASK, scores, metric="word_perplexity", higher_is_better=False)],
                      item_rows(TASK, scores, metric="word_perplexity"))
            for role, scores in (("candidate", candidate), ("baseline", baseline))]
    check = f"{{name: ppl, kind: relative, metric: {TASK}.word_perplexity, max_drop: 0.1}}"
    [result] = gate(tmp_path, *runs, check).checks
    assert result.verdict == "fail" and result.evidence.delta == pytest.approx(0.3)
    assert result.evidence.ci_low > 0.1 and result.evidence.higher_is_better is False
    [allowed] = gate(tmp_path, *runs, check.replace("0.1}", "0.5}")).checks
    assert allowed.verdict == "pass"


def test_holm_correction_keeps_borderline_failures_across_many_checks_from_failing_the_gate(tmp_path: Path) -> None:
    # Three checks that each fail alone with p(worse) ~ 0.02, and one that fails by far.
    losses = {"task_0": 118, "task_1": 118, "task_2": 118, "task_3": 200}
    results, rows = {"candidate": [], "baseline": []}, {"candidate": [], "baseline": []}
    for index, (task, lost) in enumerate(losses.items()):
        baseline, candidate = paired_outcomes(1000, accuracy=0.6, gains=40, losses=lost, seed=index)
        for role, outcomes in (("candidate", candidate), ("baseline", baseline)):
            results[role].append(task_result(task, outcomes))
            rows[role] += item_rows(task, outcomes)
    runs = [write_run(tmp_path / role, results[role], rows[role]) for role in ("candidate", "baseline")]
    checks = [f"{{name: {task}, kind: relative, metric: {task}.acc, max_drop: 0.05}}" for task in losses]
    plain = gate(tmp_path, *runs, *checks, on_inconclusive="warn")
    corrected = gate(tmp_path, *runs, *checks, on_inconclusive="warn", holm=True)
    assert [check.verdict for check in plain.checks] == ["fail"] * 4
    assert all(0.01 < check.evidence.p_inferiority < 0.05 for check in plain.checks[:3])
    assert [check.verdict for check in corrected.checks] == ["inconclusive"] * 3 + ["fail"]
    assert all(check.evidence.p_inferiority_holm > 0.05 for check in corrected.checks[:3])
    assert "Holm-adjusted p(worse)" in corrected.checks[0].reason


def test_holm_correction_does_not_change_passes(tmp_path: Path) -> None:
    # The gate passes only if every check passes (an intersection-union test): passes need no correction.
    results, rows = {"candidate": [], "baseline": []}, {"candidate": [], "baseline": []}
    for index in range(4):
        baseline, candidate = paired_outcomes(1000, accuracy=0.6, gains=40, losses=66, seed=index)
        for role, outcomes in (("candidate", candidate), ("baseline", baseline)):
            results[role].append(task_result(f"task_{index}", outcomes))
            rows[role] += item_rows(f"task_{index}", outcomes)
    runs = [write_run(tmp_path / role, results[role], rows[role]) for role in ("candidate", "baseline")]
    checks = [f"{{name: t{index}, kind: relative, metric: task_{index}.acc, max_drop: 0.05}}" for index in range(4)]
    corrected = gate(tmp_path, *runs, *checks, holm=True)
    assert all(0.01 < check.evidence.p_noninferiority < 0.05 for check in corrected.checks)
    assert [check.verdict for check in corrected.checks] == ["pass"] * 4 and corrected.verdict == "pass"


# --- absolute, tasks_present and severities --------------------------------------------------------------------


def test_absolute_floor_and_ceiling_compare_the_candidate_value(tmp_path: Path) -> None:
    candidate = write_binary_run(tmp_path / "run", paired_outcomes(100, accuracy=0.42)[0])
    floor = f"{{name: floor, kind: absolute, metric: {TASK}.acc, op: '>=', value: 0.40}}"
    ceiling = f"{{name: ceiling, kind: absolute, metric: {TASK}.acc, op: '<=', value: 0.40}}"
    result = gate(tmp_path, candidate, None, floor, ceiling)
    assert [check.verdict for check in result.checks] == ["pass", "fail"]
    assert result.checks[1].evidence.candidate == pytest.approx(0.42) and result.verdict == "fail"


def test_absolute_checks_read_seed_metrics(tmp_path: Path) -> None:
    outcomes = paired_outcomes(10, accuracy=0.5)[0]
    candidate = write_run(tmp_path / "run", [task_result(TASK, outcomes)], item_rows(TASK, outcomes),
                          seed_metrics=seed_metrics())
    checks = ["{name: ppl, kind: absolute, metric: perplexity, op: '<=', value: 25}",
              f"{{name: prompt-ppl, kind: absolute, metric: prompt_perplexity.{TASK}, op: '<=', value: 30}}",
              "{name: facts, kind: absolute, metric: factuality.evalkit_truthfulqa_mc2, op: '>=', value: 0.4}"]
    result = gate(tmp_path, candidate, None, *checks)
    assert [(check.verdict, check.evidence.candidate) for check in result.checks] == [
        ("pass", 21.5), ("fail", 40.0), ("pass", 0.41)]


def test_warn_check_that_fails_is_reported_but_does_not_block(tmp_path: Path) -> None:
    candidate = write_binary_run(tmp_path / "run", paired_outcomes(100, accuracy=0.3)[0])
    check = f"{{name: floor, kind: absolute, metric: {TASK}.acc, op: '>=', value: 0.5, severity: warn}}"
    result = gate(tmp_path, candidate, None, check)
    assert result.checks[0].verdict == "fail" and not result.checks[0].blocks
    assert (result.verdict, result.exit_code) == ("pass", 0)


def test_tasks_present_fails_naming_the_missing_tasks(tmp_path: Path) -> None:
    candidate = write_binary_run(tmp_path / "run", [1, 0, 1])
    check = f"{{name: present, kind: tasks_present, tasks: [{TASK}, evalkit_gsm8k, evalkit_mmlu]}}"
    [result] = gate(tmp_path, candidate, None, check).checks
    assert result.verdict == "fail" and result.evidence.missing_tasks == ["evalkit_gsm8k", "evalkit_mmlu"]


def test_tasks_present_defaults_to_the_policy_suite(tmp_path: Path) -> None:
    candidate = write_binary_run(tmp_path / "run", [1, 0, 1])
    [result] = gate(tmp_path, candidate, None, "{name: present, kind: tasks_present}", suite="quick").checks
    assert result.verdict == "fail" and len(result.evidence.expected_tasks) == 18
    assert TASK not in result.evidence.missing_tasks and "evalkit_gsm8k" in result.evidence.missing_tasks


# --- fail closed -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [("data_sha256", "e" * 64), ("prompt_sha256", "f" * 64), ("limit", 50)])
def test_task_scored_differently_in_the_two_runs_is_an_error(tmp_path: Path, field: str, value: object) -> None:
    baseline, candidate = paired_outcomes(100, accuracy=0.6)
    candidate_path = write_binary_run(tmp_path / "candidate", candidate, **{field: value})
    baseline_path = write_binary_run(tmp_path / "baseline", baseline)
    with pytest.raises(GateError, match=f"task {TASK} was scored differently .*{field}"):
        gate(tmp_path, candidate_path, baseline_path, relative(0.05))


def test_unknown_metric_is_an_error_listing_the_known_metrics(tmp_path: Path) -> None:
    candidate = write_run(tmp_path / "run", [task_result(TASK, [1, 0])], item_rows(TASK, [1, 0]),
                          seed_metrics=seed_metrics())
    check = "{name: mmlu, kind: absolute, metric: evalkit_mmlu.acc, op: '>=', value: 0.3}"
    with pytest.raises(GateError) as raised:
        gate(tmp_path, candidate, None, check)
    message = str(raised.value)
    assert "'evalkit_mmlu.acc' is not in the candidate scorecard" in message
    assert (f"known metrics: {TASK}.acc, perplexity, perplexity.wiki.jsonl, prompt_perplexity.{TASK}, "
            "factuality.evalkit_truthfulqa_mc2") in message


def test_metric_missing_from_the_baseline_is_an_error(tmp_path: Path) -> None:
    candidate = write_binary_run(tmp_path / "candidate", [1, 0, 1])
    baseline = write_binary_run(tmp_path / "baseline", [1, 0, 1], task="evalkit_boolq")
    with pytest.raises(GateError, match="not in the baseline scorecard .*known metrics: evalkit_boolq.acc"):
        gate(tmp_path, candidate, baseline, relative(0.05))


def test_metric_with_several_filters_needs_the_filter_named(tmp_path: Path) -> None:
    strict = Metric(name="exact_match", filter="strict-match", value=0.5, stderr=0.1, n=2)
    result = task_result("evalkit_gsm8k", [1, 0], metric="exact_match", filter_name="flexible-extract",
                         extra_metrics=[strict])
    candidate = write_run(tmp_path / "run", [result], [])
    check = "{name: gsm, kind: absolute, metric: evalkit_gsm8k.exact_match, op: '>=', value: 0.1}"
    with pytest.raises(GateError, match="several filters.*evalkit_gsm8k.exact_match,flexible-extract or"):
        gate(tmp_path, candidate, None, check)
    named = check.replace("evalkit_gsm8k.exact_match,", "'evalkit_gsm8k.exact_match,strict-match',")
    assert gate(tmp_path, candidate, None, named).checks[0].evidence.candidate == 0.5


def test_relative_check_on_a_corpus_level_metric_is_an_error(tmp_path: Path) -> None:
    runs = []
    for role in ("candidate", "baseline"):
        rows = item_rows("evalkit_mrpc", [1, 0], metric="f1")
        for row in rows:
            row["score"] = [1, "1"]
        runs.append(write_run(tmp_path / role, [task_result("evalkit_mrpc", [1, 0], metric="f1")], rows))
    check = "{name: f1, kind: relative, metric: evalkit_mrpc.f1, max_drop: 0.05}"
    with pytest.raises(GateError, match="corpus-level metric .* use an absolute check"):
        gate(tmp_path, *runs, check)


def test_items_whose_mean_is_not_the_scorecard_value_are_an_error(tmp_path: Path) -> None:
    baseline, candidate = paired_outcomes(100, accuracy=0.6)
    rows = item_rows(TASK, candidate)
    rows[0]["score"] = 1.0 - rows[0]["score"]
    candidate_path = write_run(tmp_path / "candidate", [task_result(TASK, candidate)], rows)
    with pytest.raises(GateError, match="candidate items of .* average .* but its scorecard says 0.6: the metric is "
                                        "not a mean over items"):
        gate(tmp_path, candidate_path, write_binary_run(tmp_path / "baseline", baseline), relative(0.05))


def test_items_that_disagree_with_the_scorecard_are_an_error(tmp_path: Path) -> None:
    baseline, candidate = paired_outcomes(100, accuracy=0.6)
    candidate_path = write_run(tmp_path / "candidate", [task_result(TASK, candidate)],
                               item_rows(TASK, candidate)[:90])
    with pytest.raises(GateError, match="does not match the candidate scorecard"):
        gate(tmp_path, candidate_path, write_binary_run(tmp_path / "baseline", baseline), relative(0.05))


def test_runs_that_scored_different_items_are_an_error(tmp_path: Path) -> None:
    outcomes = paired_outcomes(50, accuracy=0.6)[0]
    rows = item_rows(TASK, outcomes)
    rows[0]["item_id"] = "another-item"
    candidate = write_run(tmp_path / "candidate", [task_result(TASK, outcomes)], rows)
    with pytest.raises(GateError, match="the runs scored different items \\(1 only in the candidate"):
        gate(tmp_path, candidate, write_binary_run(tmp_path / "baseline", outcomes), relative(0.05))


def test_relative_check_without_a_baseline_is_an_error(tmp_path: Path) -> None:
    candidate = write_binary_run(tmp_path / "run", [1, 0, 1])
    with pytest.raises(GateError, match="has relative checks \\(no-regression\\): pass --baseline"):
        gate(tmp_path, candidate, None, relative(0.05))


def test_unreadable_scorecard_and_missing_items_are_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken" / "scorecard.json"
    broken.parent.mkdir()
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(GateError, match="is not a valid evalkit scorecard"):
        load_run(str(broken))
    with pytest.raises(GateError, match="does not exist"):
        load_run(str(tmp_path / "nowhere" / "scorecard.json"))
    candidate, baseline = pair(tmp_path, 30)
    (baseline.parent / "items.jsonl").unlink()
    with pytest.raises(GateError, match="cannot read items file"):
        gate(tmp_path, candidate, baseline, relative(0.05))


def test_unfinished_run_in_the_store_is_an_error(tmp_path: Path, evalkit_home: Path) -> None:
    folder = store.start_run("20250101-000000-synthetic-abcdef", "synthetic-model", "sha256:" + "0" * 64, None)
    with pytest.raises(GateError, match="run 20250101-000000-synthetic-abcdef is running, not finished"):
        load_run("20250101-000000-synthetic-abcdef")
    # A scorecard in the folder of a run that the store still marks running is refused too.
    scorecard = write_binary_run(folder, [1, 0, 1])
    with pytest.raises(GateError, match="is running in the run store"):
        load_run(str(scorecard))
    store.finish_run("20250101-000000-synthetic-abcdef")
    assert load_run("20250101-000000-synthetic-abcdef").scorecard.run_id == folder.name
