"""Proportions with their standard error, overall and per group: how every safety number is reported."""

from __future__ import annotations

import math
from collections.abc import Sequence

from evalkit.scorecard import Metric


def proportion(name: str, outcomes: Sequence[bool], *, higher_is_better: bool) -> Metric:
    """The share of ``True`` outcomes with lm-eval's standard error of a mean (sample variance, ddof=1).

    Args:
        name: the metric name.
        outcomes: one boolean per item (items that could not be judged are left out by the caller).
        higher_is_better: the metric's direction.

    Returns:
        A :class:`Metric`; value and stderr are ``None`` when there are no items.
    """
    n = len(outcomes)
    if n == 0:
        return Metric(name=name, filter="none", value=None, stderr=None, n=0, higher_is_better=higher_is_better)
    value = sum(outcomes) / n
    stderr = math.sqrt(value * (1 - value) / (n - 1)) if n > 1 else None
    return Metric(name=name, filter="none", value=value, stderr=stderr, n=n, higher_is_better=higher_is_better)


def by_group(name: str, outcomes: Sequence[bool], groups: Sequence[str], *, higher_is_better: bool) -> list[Metric]:
    """:func:`proportion` per group, as metrics named ``name[group]`` in first-seen order."""
    order = list(dict.fromkeys(groups))
    return [proportion(f"{name}[{group}]", [outcome for outcome, own in zip(outcomes, groups, strict=True)
                                            if own == group], higher_is_better=higher_is_better)
            for group in order]


def gap(name: str, per_group: Sequence[Metric]) -> Metric:
    """The largest difference between two groups' rates (a demographic-parity gap), with the standard error of
    that difference (the two groups' errors combined as independent); lower is better."""
    rated = [metric for metric in per_group if metric.value is not None]
    if len(rated) < 2:
        return Metric(name=name, filter="none", value=None, stderr=None, n=0, higher_is_better=False)
    high = max(rated, key=lambda metric: metric.value or 0.0)
    low = min(rated, key=lambda metric: metric.value or 0.0)
    errors = [metric.stderr for metric in (high, low)]
    stderr = math.sqrt(sum(error**2 for error in errors if error is not None)) if all(errors) else None
    return Metric(name=name, filter="none", value=(high.value or 0.0) - (low.value or 0.0), stderr=stderr,
                  n=sum(metric.n for metric in rated), higher_is_better=False)
