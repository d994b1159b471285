"""Per-task, per-metric differences between two scorecards."""

from __future__ import annotations

import math
from dataclasses import dataclass

from evalkit.scorecard import Scorecard


@dataclass(frozen=True)
class MetricDelta:
    """One metric in both runs: values, the difference B - A, and its standard error (independent samples)."""

    task: str
    metric: str
    filter: str
    value_a: float | None
    value_b: float | None
    delta: float | None
    delta_stderr: float | None


def compare(run_a: Scorecard, run_b: Scorecard) -> list[MetricDelta]:
    """Match metrics by (task, metric, filter) across two scorecards.

    Args:
        run_a: the reference scorecard.
        run_b: the scorecard compared with it.

    Returns:
        One delta per metric present in either run; missing sides have ``None`` values.
    """
    def index(card: Scorecard) -> dict[tuple[str, str, str], tuple[float | None, float | None]]:
        return {(task.name, metric.name, metric.filter): (metric.value, metric.stderr)
                for task in card.tasks for metric in task.metrics}

    left, right = index(run_a), index(run_b)
    deltas = []
    for key in list(left) + [key for key in right if key not in left]:
        value_a, stderr_a = left.get(key, (None, None))
        value_b, stderr_b = right.get(key, (None, None))
        both = value_a is not None and value_b is not None
        delta = value_b - value_a if both else None  # type: ignore[operator]
        stderr = math.hypot(stderr_a, stderr_b) if both and stderr_a is not None and stderr_b is not None else None
        deltas.append(MetricDelta(*key, value_a, value_b, delta, stderr))
    return deltas
