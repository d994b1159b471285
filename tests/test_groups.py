"""lm-eval group aggregates in the Scorecard: computed with lm-eval's own size weighting and pooled stderr."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from evalkit.groups import aggregate_groups
from evalkit.score import ScoreOptions, score
from evalkit.scorecard import Metric, TaskResult, TaskSettings
from evalkit.suites import SuiteEntry
from evalkit.tasks_resolve import build_task_manager, load_tasks

GROUP_YAML = """group: pair_group
task:
  - evalkit_arc_easy
  - evalkit_piqa
aggregate_metric_list:
  - metric: acc
    weight_by_size: true
metadata:
  version: 1.0
"""


@pytest.fixture
def group_file(tmp_path: Path) -> Path:
    """A user group YAML over two bundled tasks, aggregating acc weighted by size."""
    path = tmp_path / "pair_group.yaml"
    path.write_text(GROUP_YAML, encoding="utf-8")
    return path


def _result(name: str, value: float, stderr: float, n: int) -> TaskResult:
    return TaskResult(name=name, version="1.0", output_type="multiple_choice", data_sha256="0" * 64,
                      prompt_sha256="0" * 64, settings=TaskSettings(num_fewshot=0, limit=None, seed=1234,
                                                                     apply_chat_template=False),
                      metrics=[Metric(name="acc", filter="none", value=value, stderr=stderr, n=n),
                               Metric(name="acc_norm", filter="none", value=0.1, stderr=0.01, n=n)],
                      seconds=0.0)


def test_group_yaml_path_loads_its_leaf_tasks_and_group(evalkit_home: Path, group_file: Path) -> None:
    loaded = load_tasks(str(group_file), build_task_manager([str(group_file)]))

    assert set(loaded.tasks) == {"evalkit_arc_easy", "evalkit_piqa"}
    assert set(loaded.groups) == {"pair_group"}


def test_group_aggregate_is_size_weighted_with_pooled_stderr(evalkit_home: Path, group_file: Path) -> None:
    groups = load_tasks(str(group_file), build_task_manager([str(group_file)])).groups
    results = [_result("evalkit_arc_easy", 0.5, 0.1, 10), _result("evalkit_piqa", 0.8, 0.05, 30)]

    (group,) = aggregate_groups(groups, results)

    (acc,) = group.metrics
    pooled = math.sqrt(((9 * 0.1**2 * 10) + (29 * 0.05**2 * 30)) / (40 - 2) / 40)
    assert (group.name, sorted(group.tasks)) == ("pair_group", ["evalkit_arc_easy", "evalkit_piqa"])
    assert (acc.name, acc.filter, acc.n) == ("acc", "none", 40)
    assert acc.value == pytest.approx((0.5 * 10 + 0.8 * 30) / 40)
    assert acc.stderr == pytest.approx(pooled)


def test_scorecard_carries_group_aggregates_of_a_scored_group(evalkit_home: Path, tiny_model_dir: Path,
                                                              group_file: Path) -> None:
    card = score(str(tiny_model_dir), [SuiteEntry(task=str(group_file), limit=4)],
                 ScoreOptions(prompt_ppl_sample=0))

    (group,) = card.groups
    leaves = {task.name: card.metric(task.name, "acc") for task in card.tasks}
    assert group.metrics[0].n == sum(metric.n for metric in leaves.values()) == 8
    assert group.metrics[0].value == pytest.approx(sum(metric.value for metric in leaves.values()) / 2)
