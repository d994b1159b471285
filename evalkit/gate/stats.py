"""Paired comparisons of a candidate with a baseline on the same items, for non-inferiority decisions.

Two methods, chosen by the data:

- **binary items** (every score is 0 or 1): McNemar's exact test on the discordant pairs (``scipy.stats.binomtest``,
  conditional on their number) gives the p-value of "no difference"; the confidence interval for the paired
  difference of proportions is Newcombe's square-and-add interval for paired data (Newcombe 1998, method 10:
  Wilson score intervals of both proportions, combined with the correlation of the paired table, with
  Newcombe's continuity-corrected correlation). It keeps its coverage at small n, where a bootstrap interval is
  too narrow, and needs no resampling.
- **scores** (any other numbers, e.g. TruthfulQA mc2 probabilities): the paired bootstrap over items
  (``scipy.stats.bootstrap`` on the per-item differences, percentile interval, seeded).

A margin ``m`` turns the interval into a verdict: non-inferior when the lower bound of (candidate - baseline) is
above ``-m``, inferior when the upper bound is below ``-m``, undecided otherwise. The one-sided p-values of those
two statements (``p_noninferiority``, ``p_inferiority``) are the smallest alpha at which the two-sided
``1 - alpha`` interval would decide; Holm's correction across checks works on ``p_inferiority``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import binomtest, bootstrap

MIN_BOOTSTRAP_ITEMS = 30
SMALLEST_ALPHA = 1e-12
LARGEST_ALPHA = 1 - 1e-9


@dataclass(frozen=True)
class PairedComparison:
    """The paired difference candidate - baseline over the same items, with its interval and p-values."""

    method: str
    n: int
    candidate_mean: float
    baseline_mean: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    p_noninferiority: float
    p_inferiority: float
    gains: int | None = None
    losses: int | None = None


@dataclass(frozen=True)
class PairedTable:
    """Counts of the paired 2x2 table of binary outcomes."""

    both: int
    candidate_only: int
    baseline_only: int
    neither: int

    @property
    def n(self) -> int:
        """The number of pairs."""
        return self.both + self.candidate_only + self.baseline_only + self.neither

    @classmethod
    def from_outcomes(cls, candidate: np.ndarray, baseline: np.ndarray) -> PairedTable:
        """Count the table from two boolean arrays over the same items."""
        candidate, baseline = candidate.astype(bool), baseline.astype(bool)
        return cls(int(np.sum(candidate & baseline)), int(np.sum(candidate & ~baseline)),
                   int(np.sum(~candidate & baseline)), int(np.sum(~candidate & ~baseline)))


def wilson_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (``scipy.stats.binomtest``)."""
    interval = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def _newcombe_correlation(table: PairedTable) -> float:
    margins = ((table.both + table.candidate_only) * (table.baseline_only + table.neither)
               * (table.both + table.baseline_only) * (table.candidate_only + table.neither))
    if margins == 0:
        return 0.0
    cross = table.both * table.neither - table.candidate_only * table.baseline_only
    if cross > table.n / 2:
        return (cross - table.n / 2) / math.sqrt(margins)
    return 0.0 if cross >= 0 else cross / math.sqrt(margins)


def newcombe_paired_interval(table: PairedTable, confidence: float) -> tuple[float, float]:
    """Newcombe's square-and-add interval for the paired difference of proportions (candidate - baseline).

    Args:
        table: the paired 2x2 table.
        confidence: the two-sided confidence level, e.g. 0.95.

    Returns:
        ``(low, high)``, within [-1, 1].
    """
    n = table.n
    p1, p2 = (table.both + table.candidate_only) / n, (table.both + table.baseline_only) / n
    l1, u1 = wilson_interval(table.both + table.candidate_only, n, confidence)
    l2, u2 = wilson_interval(table.both + table.baseline_only, n, confidence)
    phi = _newcombe_correlation(table)
    delta = p1 - p2
    below = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    above = math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    return max(-1.0, delta - below), min(1.0, delta + above)


def _alpha_where(decides: Callable[[float], float]) -> float:
    """Smallest alpha with ``decides(alpha) > 0``, for a function increasing in alpha (1.0 if none)."""
    if decides(LARGEST_ALPHA) <= 0:
        return 1.0
    if decides(SMALLEST_ALPHA) > 0:
        return SMALLEST_ALPHA
    return float(brentq(decides, SMALLEST_ALPHA, LARGEST_ALPHA, xtol=1e-12))


def compare_binary(candidate: np.ndarray, baseline: np.ndarray, *, margin: float,
                   confidence: float) -> PairedComparison:
    """McNemar's exact test and Newcombe's paired interval for binary outcomes on the same items.

    Args:
        candidate: 0/1 (or boolean) outcomes of the candidate, one per item.
        baseline: the baseline's outcomes on the same items, in the same order.
        margin: the non-inferiority margin (the allowed drop), >= 0.
        confidence: the two-sided confidence level of the interval.

    Returns:
        The :class:`PairedComparison`; ``gains`` and ``losses`` are the discordant pairs the candidate won and lost.
    """
    table = PairedTable.from_outcomes(candidate, baseline)
    discordant = table.candidate_only + table.baseline_only
    p_value = binomtest(table.candidate_only, discordant, 0.5).pvalue if discordant else 1.0
    low, high = newcombe_paired_interval(table, confidence)
    return PairedComparison(
        method="mcnemar-exact+newcombe", n=table.n,
        candidate_mean=(table.both + table.candidate_only) / table.n,
        baseline_mean=(table.both + table.baseline_only) / table.n,
        delta=(table.candidate_only - table.baseline_only) / table.n, ci_low=low, ci_high=high,
        p_value=float(p_value),
        p_noninferiority=_alpha_where(lambda alpha: newcombe_paired_interval(table, 1 - alpha)[0] + margin),
        p_inferiority=_alpha_where(lambda alpha: -margin - newcombe_paired_interval(table, 1 - alpha)[1]),
        gains=table.candidate_only, losses=table.baseline_only,
    )


def compare_scores(candidate: np.ndarray, baseline: np.ndarray, *, margin: float, confidence: float,
                   resamples: int, seed: int) -> PairedComparison:
    """The paired bootstrap: resample items with replacement and recompute the mean difference.

    Args:
        candidate: the candidate's per-item scores.
        baseline: the baseline's scores on the same items, in the same order.
        margin: the non-inferiority margin (the allowed drop), >= 0.
        confidence: the two-sided confidence level of the percentile interval.
        resamples: the number of bootstrap resamples.
        seed: the seed of the resampling, so a gate run is reproducible.

    Returns:
        The :class:`PairedComparison`; p-values are resampling p-values, ``(1 + count) / (1 + resamples)``.
    """
    differences = np.asarray(candidate, dtype=float) - np.asarray(baseline, dtype=float)
    delta = float(differences.mean())
    if np.ptp(differences) == 0:
        # Every resample has the same mean; scipy would warn about a degenerate distribution.
        distribution, low, high = np.full(resamples, delta), delta, delta
    else:
        result = bootstrap((differences,), np.mean, n_resamples=resamples, method="percentile",
                           confidence_level=confidence, rng=np.random.default_rng(seed), vectorized=True,
                           batch=max(1, 4_000_000 // differences.size))
        distribution = result.bootstrap_distribution
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)

    def two_sided(count: int) -> float:
        return min(1.0, 2 * (1 + count) / (1 + resamples))

    return PairedComparison(
        method="paired-bootstrap", n=int(differences.size), candidate_mean=float(np.mean(candidate)),
        baseline_mean=float(np.mean(baseline)), delta=delta, ci_low=low, ci_high=high,
        p_value=min(1.0, two_sided(int(np.sum(distribution <= 0))), two_sided(int(np.sum(distribution >= 0)))),
        p_noninferiority=two_sided(int(np.sum(distribution <= -margin))),
        p_inferiority=two_sided(int(np.sum(distribution >= -margin))),
    )


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: the adjusted p of the i-th smallest is ``max_{j<=i} (m - j) p_(j)``, capped at 1.

    scipy has no Holm (``scipy.stats.false_discovery_control`` does Benjamini-Hochberg/Yekutieli only).

    Args:
        p_values: one p-value per hypothesis of the family.

    Returns:
        The adjusted p-values, in the input order.
    """
    count = len(p_values)
    adjusted = [1.0] * count
    running = 0.0
    for rank, index in enumerate(sorted(range(count), key=p_values.__getitem__)):
        running = max(running, min(1.0, (count - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
