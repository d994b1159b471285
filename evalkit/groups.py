"""Aggregates of lm-eval groups (e.g. ``mmlu``) over their leaf tasks' results, using lm-eval's own
``Group.aggregate`` so that size weighting and pooled standard errors match what lm-eval reports."""

from __future__ import annotations

from typing import Any

from evalkit.engine import float_or_none
from evalkit.scorecard import GroupResult, Metric, TaskResult


def _lm_eval_task_metrics(results: list[TaskResult]) -> dict[str, dict[str, Any]]:
    flat: dict[str, dict[str, Any]] = {}
    for result in results:
        entry: dict[str, Any] = {"sample_len": max((metric.n for metric in result.metrics), default=0)}
        for metric in result.metrics:
            entry[f"{metric.name},{metric.filter}"] = metric.value
            entry[f"{metric.name}_stderr,{metric.filter}"] = "N/A" if metric.stderr is None else metric.stderr
        flat[result.name] = entry
    return flat


def aggregate_groups(groups: dict[str, Any], results: list[TaskResult]) -> list[GroupResult]:
    """Aggregate each group that declares an ``aggregate_metric_list``.

    Args:
        groups: lm-eval ``Group`` objects by name, as loaded with the tasks.
        results: the run's task results.

    Returns:
        One :class:`GroupResult` per aggregating group, in load order.
    """
    flat = _lm_eval_task_metrics(results)
    aggregated = []
    for name, group in groups.items():
        if not group.has_aggregation:
            continue
        values = group.aggregate(flat)
        counts = values.get("sample_count", {})
        metrics = [
            Metric(name=key.split(",", 1)[0], filter=key.split(",", 1)[1], value=float(value),
                   stderr=float_or_none(values.get(key.replace(",", "_stderr,", 1))), n=int(counts.get(key, 0)))
            for key, value in values.items() if "," in key and "_stderr," not in key
        ]
        aggregated.append(GroupResult(name=name, tasks=[task.task_name for task in group.get_all_tasks()],
                                      metrics=metrics))
    return aggregated
