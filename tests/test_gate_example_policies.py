"""The shipped example policies (default, quick, release) on synthetic runs shaped like the suites they name:
an identical candidate passes, a collapse fails, and what a small sample cannot decide is reported as such."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.gate import AbsoluteCheck, GateResult, RelativeCheck, load_policy, load_run, parse_metric_path, run_gate
from evalkit.gate.paths import MetricPath
from evalkit.scorecard import Metric, SafetySection, SeedMetrics, TaskResult
from tests.test_gate_synthetic import item_rows, paired_outcomes, seed_metrics, task_result, write_run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "policies"
STANDARD_SIZES = {"evalkit_mmlu": 108, "evalkit_truthfulqa_mc1": 64, "evalkit_truthfulqa_mc2": 64,
                  "evalkit_hellaswag": 61, "evalkit_arc_easy": 62, "evalkit_arc_challenge": 60, "evalkit_piqa": 52,
                  "evalkit_winogrande": 50, "evalkit_boolq": 40, "evalkit_sst2": 40, "evalkit_mnli": 45,
                  "evalkit_qnli": 40, "evalkit_rte": 40, "evalkit_mrpc": 40, "evalkit_cola": 40, "evalkit_qqp": 40,
                  "evalkit_gsm8k": 32, "evalkit_ifeval": 34}
QUICK_SIZES = {task: 3 if task in ("evalkit_gsm8k", "evalkit_ifeval") else 10 for task in STANDARD_SIZES}
SAFETY_SIZES = {"safety_harmful": 84, "safety_jailbreak": 48, "safety_benign": 140, "safety_privacy": 30,
                "safety_stereotype": 64, "safety_toxicity": 30}
SAFETY_QUICK_SIZES = dict.fromkeys(SAFETY_SIZES, 12)
LOWER_IS_BETTER = ("unsafe_response_rate", "jailbreak_success_rate", "over_refusal_rate", "pii_leak_rate")


def _paths_by_task(policy: str) -> dict[str, list[MetricPath]]:
    paths: dict[str, list[MetricPath]] = {}
    for check in load_policy(EXAMPLES / policy).policy.checks:
        if isinstance(check, RelativeCheck):
            path = parse_metric_path(check.metric)
            paths.setdefault(path.task, []).append(path)
    return paths


def _task(task: str, size: int, paths: list[MetricPath], accuracy: float, lost: int,
          extra: list[Metric]) -> dict[str, tuple[TaskResult, list]]:
    """The candidate's and the baseline's result and rows of one task, one metric per relative check on it."""
    built: dict[str, tuple[TaskResult, list]] = {}
    baseline, candidate = paired_outcomes(size, accuracy=0.6 if lost else accuracy, losses=lost)
    for role, outcomes in (("candidate", candidate), ("baseline", baseline)):
        metrics, rows = [], []
        for path in paths or [parse_metric_path(f"{task}.acc")]:
            higher = path.metric not in LOWER_IS_BETTER
            result = task_result(task, outcomes, metric=path.metric, filter_name=path.filter or "none",
                                 higher_is_better=higher)
            metrics += result.metrics
            rows += item_rows(task, outcomes, metric=path.metric, filter_name=path.filter or "none")
        built[role] = (result.model_copy(update={"metrics": metrics + extra}), rows)
    return built


def _safety(results: list[TaskResult], ceilings: dict[str, float]) -> SafetySection | None:
    if not results:
        return None
    summary = [Metric(name=path.removeprefix("safety."), filter="none", value=value / 2, stderr=0.05, n=36,
                      higher_is_better=False) for path, value in ceilings.items() if path.startswith("safety.")]
    return SafetySection(guard="reference", guard_checkpoint=None, threshold=0.5, refusal_detector="test",
                         generation={}, summary=summary, tasks=results)


def example_runs(folder: Path, policy: str, sizes: dict[str, int], accuracy: float, *, losses: int = 0,
                 perplexity_factor: float = 0.5) -> tuple[str, str]:
    """Synthetic candidate and baseline runs shaped by an example policy's metric paths, with the given task sizes.

    The candidate loses ``losses`` items of evalkit_arc_easy (baseline accuracy 0.6 there); its prompt
    perplexities are ``perplexity_factor`` times the policy's ceilings; its safety rates are half the ceilings.
    """
    paths = _paths_by_task(policy)
    absolute = {check.metric: check.value for check in load_policy(EXAMPLES / policy).policy.checks
                if isinstance(check, AbsoluteCheck)}
    results: dict[str, list[TaskResult]] = {"candidate": [], "baseline": []}
    safety: dict[str, list[TaskResult]] = {"candidate": [], "baseline": []}
    rows: dict[str, list] = {"candidate": [], "baseline": []}
    for task, size in sizes.items():
        extra = [Metric(name=name, filter="none", value=0.35, stderr=0.1, n=size) for name in ("f1", "mcc")
                 if f"{task}.{name}" in absolute]
        built = _task(task, size, paths.get(task, []), accuracy, losses if task == "evalkit_arc_easy" else 0, extra)
        for role, (result, task_rows) in built.items():
            (safety if task.startswith("safety_") else results)[role].append(result)
            rows[role] += task_rows
    template = seed_metrics().prompt_perplexity[0]
    ceilings = {path.removeprefix("prompt_perplexity."): value for path, value in absolute.items()
                if path.startswith("prompt_perplexity.")}
    runs = []
    for role in ("candidate", "baseline"):
        factor = perplexity_factor if role == "candidate" else 0.5
        seeds = SeedMetrics(prompt_perplexity=[template.model_copy(update={
            "source": f"prompts:{task}", "token_perplexity": factor * ceiling}) for task, ceiling in ceilings.items()])
        runs.append(str(write_run(folder / role, results[role], rows[role], seed_metrics=seeds,
                                  safety=_safety(safety[role], absolute))))
    return runs[0], runs[1]


def gate_example(tmp_path: Path, policy: str, sizes: dict[str, int], accuracy: float, *, losses: int = 0,
                 perplexity_factor: float = 0.5) -> GateResult:
    candidate, baseline = example_runs(tmp_path, policy, sizes, accuracy, losses=losses,
                                       perplexity_factor=perplexity_factor)
    return run_gate(load_policy(EXAMPLES / policy), load_run(candidate), load_run(baseline))


@pytest.mark.parametrize("name", ["default.yaml", "quick.yaml", "release.yaml"])
def test_example_policies_are_valid_and_name_a_builtin_suite(name: str) -> None:
    loaded = load_policy(EXAMPLES / name)
    assert loaded.suite is not None and loaded.policy.checks
    kinds = {check.kind for check in loaded.policy.checks}
    assert {"relative", "tasks_present"} <= kinds


def test_the_default_policy_scores_quick_and_the_safety_sample() -> None:
    loaded = load_policy(EXAMPLES / "default.yaml")
    assert loaded.suite is not None and loaded.suite.safety is not None and loaded.suite.safety.limit == 12
    assert set(SAFETY_QUICK_SIZES) <= set(loaded.expected_tasks())


@pytest.mark.parametrize("accuracy", [0.0, 0.03, 0.1, 0.3, 0.5, 0.8, 1.0])
def test_release_policy_passes_a_candidate_identical_to_its_baseline_at_the_standard_suite_sizes(
        tmp_path: Path, accuracy: float) -> None:
    result = gate_example(tmp_path, "release.yaml", STANDARD_SIZES | SAFETY_SIZES, accuracy)
    assert [check.name for check in result.checks if check.verdict != "pass" and check.severity == "block"] == []
    assert result.verdict == "pass"


@pytest.mark.parametrize(("losses", "verdict"), [(12, "inconclusive"), (18, "fail")])
def test_release_policy_blocks_a_candidate_that_loses_a_fifth_or_more_of_one_tasks_items(
        tmp_path: Path, losses: int, verdict: str) -> None:
    # 12 of 62 items lost: the interval is beyond the margin, but Holm over 17 relative checks does not call it a
    # proven regression; inconclusive blocks under this policy all the same. 18 lost: a failure even after Holm.
    result = gate_example(tmp_path, "release.yaml", STANDARD_SIZES | SAFETY_SIZES, 0.5, losses=losses)
    failed = {check.name: check for check in result.checks if check.verdict != "pass"}
    assert list(failed) == ["arc-easy"] and failed["arc-easy"].verdict == verdict
    assert failed["arc-easy"].evidence.ci_high < -0.07 and failed["arc-easy"].blocks
    assert result.verdict == "fail"


def test_quick_policy_passes_an_identical_candidate_warning_about_what_10_items_cannot_decide(tmp_path: Path) -> None:
    result = gate_example(tmp_path, "quick.yaml", QUICK_SIZES, 0.4)
    inconclusive = [check for check in result.checks if check.verdict == "inconclusive"]
    assert result.verdict == "pass" and inconclusive and not any(check.blocks for check in inconclusive)
    assert all(check.verdict == "pass" for check in result.checks if check.kind == "absolute")


def test_quick_policy_fails_a_candidate_whose_prompt_perplexity_explodes(tmp_path: Path) -> None:
    result = gate_example(tmp_path, "quick.yaml", QUICK_SIZES, 0.4, perplexity_factor=1000.0)
    failed = [check.name for check in result.checks if check.verdict == "fail"]
    assert failed == [check.name for check in result.checks if check.kind == "absolute"] and len(failed) == 5
    assert result.verdict == "fail"


def test_quick_policy_fails_a_candidate_whose_accuracy_collapses_on_a_task(tmp_path: Path) -> None:
    result = gate_example(tmp_path, "quick.yaml", QUICK_SIZES, 0.4, losses=6)
    [failed] = [check for check in result.checks if check.verdict == "fail"]
    assert failed.name == "arc-easy" and failed.evidence.delta == pytest.approx(-0.6) and result.verdict == "fail"


def test_default_policy_passes_an_identical_candidate(tmp_path: Path) -> None:
    result = gate_example(tmp_path, "default.yaml", QUICK_SIZES | SAFETY_QUICK_SIZES, 0.4)
    assert result.verdict == "pass" and not any(check.blocks for check in result.checks)
    assert all(check.verdict == "pass" for check in result.checks if check.kind == "absolute")


def test_default_policy_fails_a_candidate_over_a_safety_ceiling(tmp_path: Path) -> None:
    candidate, baseline = example_runs(tmp_path, "default.yaml", QUICK_SIZES | SAFETY_QUICK_SIZES, 0.4)
    scorecard = load_run(candidate).scorecard
    assert scorecard.safety is not None
    summary = [metric.model_copy(update={"value": 0.9}) if metric.name == "unsafe_response_rate" else metric
               for metric in scorecard.safety.summary]
    scorecard.safety = scorecard.safety.model_copy(update={"summary": summary})
    scorecard.save(Path(candidate))
    result = run_gate(load_policy(EXAMPLES / "default.yaml"), load_run(candidate), load_run(baseline))
    assert [check.name for check in result.checks if check.verdict == "fail"] == ["unsafe-responses"]
    assert result.verdict == "fail"
