"""The gate's paired statistics (``evalkit.gate.stats``) against published values and against unpaired analyses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import bootstrap, fisher_exact

from evalkit.gate.stats import PairedTable, compare_binary, compare_scores, holm_adjust, newcombe_paired_interval
from tests.test_gate_synthetic import paired_outcomes

# Cavo et al. (2012), complete response before and after consolidation therapy: the worked example of the paired
# 2x2 table in Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency Tables" (2017), chapter 8.
CAVO = PairedTable(both=59, candidate_only=6, baseline_only=16, neither=80)


def _arrays(outcomes: tuple[list[int], list[int]]) -> tuple[np.ndarray, np.ndarray]:
    baseline, candidate = outcomes
    return np.array(candidate), np.array(baseline)


def test_newcombe_paired_interval_matches_the_published_example() -> None:
    low, high = newcombe_paired_interval(CAVO, 0.95)
    assert (low, high) == pytest.approx((-0.1186, -0.0046), abs=5e-5)


def test_mcnemar_p_value_is_the_exact_binomial_tail_of_the_discordant_pairs() -> None:
    candidate = np.array([1] * 59 + [1] * 6 + [0] * 16 + [0] * 80)
    baseline = np.array([1] * 59 + [0] * 6 + [1] * 16 + [0] * 80)
    found = compare_binary(candidate, baseline, margin=0.05, confidence=0.95)
    exact = 2 * sum(math.comb(22, k) for k in range(7)) / 2**22
    assert found.p_value == pytest.approx(exact) and round(exact, 4) == 0.0525
    assert (found.gains, found.losses, found.n) == (6, 16, 161)
    assert found.delta == pytest.approx(-10 / 161)


@pytest.mark.parametrize(("gains", "losses"), [(20, 70), (70, 20)])
def test_mcnemar_and_bootstrap_agree_in_direction_on_the_same_items(gains: int, losses: int) -> None:
    candidate, baseline = _arrays(paired_outcomes(1000, accuracy=0.6, gains=gains, losses=losses))
    exact = compare_binary(candidate, baseline, margin=0.01, confidence=0.95)
    resampled = compare_scores(candidate.astype(float), baseline.astype(float), margin=0.01, confidence=0.95,
                               resamples=5000, seed=0)
    assert exact.delta == resampled.delta == pytest.approx((gains - losses) / 1000)
    for found in (exact, resampled):
        assert np.sign(found.ci_low) == np.sign(found.ci_high) == np.sign(gains - losses)
        assert found.p_value < 0.001
    assert exact.ci_low == pytest.approx(resampled.ci_low, abs=0.01)
    assert exact.ci_high == pytest.approx(resampled.ci_high, abs=0.01)


def test_paired_interval_decides_where_an_unpaired_analysis_of_the_same_items_cannot() -> None:
    # Correlated items: the two runs agree on 90% of them (same accuracy), as two checkpoints of one model do.
    candidate, baseline = _arrays(paired_outcomes(1000, accuracy=0.6, gains=50, losses=50))
    margin = 0.03
    paired = compare_binary(candidate, baseline, margin=margin, confidence=0.95)
    unpaired = bootstrap((candidate.astype(float), baseline.astype(float)),
                         lambda a, b, axis: a.mean(axis=axis) - b.mean(axis=axis), paired=False,
                         n_resamples=5000, method="percentile", rng=np.random.default_rng(0)).confidence_interval
    assert paired.ci_high - paired.ci_low < 0.6 * (unpaired.high - unpaired.low)
    assert paired.ci_low > -margin  # paired: not worse by 3 points
    assert unpaired.low < -margin < unpaired.high  # unpaired: cannot tell


def test_mcnemar_detects_a_small_loss_that_an_unpaired_test_misses() -> None:
    candidate, baseline = _arrays(paired_outcomes(1000, accuracy=0.6, gains=5, losses=25))
    paired = compare_binary(candidate, baseline, margin=0.0, confidence=0.95)
    table = [[candidate.sum(), 1000 - candidate.sum()], [baseline.sum(), 1000 - baseline.sum()]]
    assert paired.p_value < 0.001
    assert fisher_exact(table).pvalue > 0.3


def test_paired_bootstrap_interval_is_narrower_than_the_unpaired_bootstrap_on_correlated_scores() -> None:
    rng = np.random.default_rng(3)
    item_difficulty = rng.random(500)
    baseline = np.clip(item_difficulty + rng.normal(0, 0.05, 500), 0, 1)
    candidate = np.clip(item_difficulty + rng.normal(0, 0.05, 500), 0, 1)
    paired = compare_scores(candidate, baseline, margin=0.02, confidence=0.95, resamples=4000, seed=0)
    unpaired = bootstrap((candidate, baseline), lambda a, b, axis: a.mean(axis=axis) - b.mean(axis=axis),
                         paired=False, n_resamples=4000, method="percentile",
                         rng=np.random.default_rng(0)).confidence_interval
    assert paired.ci_high - paired.ci_low < 0.3 * (unpaired.high - unpaired.low)


def test_identical_outcomes_have_no_discordant_pairs_and_a_zero_difference() -> None:
    outcomes = np.array(paired_outcomes(200, accuracy=0.7)[0])
    found = compare_binary(outcomes, outcomes, margin=0.05, confidence=0.95)
    assert (found.delta, found.gains, found.losses, found.p_value) == (0.0, 0, 0, 1.0)
    assert found.ci_low <= 0.0 <= found.ci_high


def test_bootstrap_is_reproducible_for_a_seed_and_varies_across_seeds() -> None:
    rng = np.random.default_rng(1)
    candidate, baseline = rng.random(300), rng.random(300)
    first, again, other = (compare_scores(candidate, baseline, margin=0.05, confidence=0.95, resamples=2000, seed=seed)
                           for seed in (7, 7, 8))
    assert first == again
    assert first.ci_low != other.ci_low


@pytest.mark.parametrize("losses", [5, 20, 30, 45, 60, 80])
def test_non_inferiority_p_value_is_below_alpha_exactly_when_the_lower_bound_clears_the_margin(losses: int) -> None:
    candidate, baseline = _arrays(paired_outcomes(1000, accuracy=0.6, gains=20, losses=losses))
    found = compare_binary(candidate, baseline, margin=0.03, confidence=0.95)
    assert (found.p_noninferiority < 0.05) == (found.ci_low > -0.03)
    assert (found.p_inferiority < 0.05) == (found.ci_high < -0.03)


def test_holm_adjustment_matches_the_step_down_definition() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, then max(0.06, 0.04*1) = 0.06
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]) == []
