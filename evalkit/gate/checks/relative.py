"""``relative``: the candidate is not worse than the baseline by more than ``max_drop``, paired item by item.

A non-inferiority test on the paired difference candidate - baseline over the items both runs scored (matched
by item id): pass when the interval's lower bound is above ``-max_drop``, fail when its upper bound is below it,
inconclusive when the interval contains it (too few items to tell). For a metric where lower is better, the
signs flip: the candidate may rise by at most ``max_drop``. Binary items use McNemar's exact test with
Newcombe's paired interval, other scores the paired bootstrap (see :mod:`evalkit.gate.stats`); with fewer than
``MIN_BOOTSTRAP_ITEMS`` items a bootstrap check is inconclusive, since the percentile interval of a handful of
differences understates the uncertainty (all-equal differences give a zero-width interval).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from evalkit.errors import GateError
from evalkit.gate.checks.base import CheckBase, GateContext, noise_verdict, signed
from evalkit.gate.inputs import ensure_comparable, paired_scores
from evalkit.gate.paths import lookup_metric, parse_metric_path
from evalkit.gate.result import CheckResult, Evidence, Verdict
from evalkit.gate.stats import MIN_BOOTSTRAP_ITEMS, PairedComparison, compare_binary, compare_scores


class RelativeCheck(CheckBase):
    """Non-inferiority of a task metric against the baseline, paired by item."""

    kind: Literal["relative"] = "relative"
    metric: str = Field(description="A task metric path, e.g. evalkit_arc_easy.acc.")
    max_drop: float = Field(ge=0, description="The margin: how much worse than the baseline is acceptable.")
    higher_is_better: bool | None = Field(default=None, description="Override the metric's own direction.")

    @field_validator("metric")
    @classmethod
    def _is_a_task_metric(cls, metric: str) -> str:
        if parse_metric_path(metric).seed:
            raise ValueError(f"{metric!r} is a seed metric; relative checks pair items of task metrics "
                             "(<task>.<metric>): use an absolute check for it")
        return metric

    def named_tasks(self) -> set[str]:
        return {parse_metric_path(self.metric).task}

    def evaluate(self, context: GateContext) -> CheckResult:
        baseline = context.require_baseline(self.name)
        path = parse_metric_path(self.metric)
        mine = lookup_metric(context.candidate.scorecard, path, role="candidate")
        theirs = lookup_metric(baseline.scorecard, path, role="baseline")
        if mine.unreliable or theirs.unreliable:
            return self._result("inconclusive", mine.unreliable or theirs.unreliable or "",
                                Evidence(metric=self.metric, max_drop=self.max_drop))
        assert mine.task is not None and theirs.task is not None and mine.filter is not None
        ensure_comparable(mine.task, theirs.task)
        higher = self.higher_is_better if self.higher_is_better is not None else mine.higher_is_better
        if higher is None:
            raise GateError(f"check {self.name!r}: {self.metric} does not say whether higher is better: add "
                            "higher_is_better: true or false to the check")
        pairs = paired_scores(context.candidate, baseline, task=path.task, metric=path.metric,
                              filter_name=mine.filter, expected=((mine.n, mine.value), (theirs.n, theirs.value)))
        comparison = _compare(pairs.candidate, pairs.baseline, pairs.binary, higher, self.max_drop, context)
        evidence = Evidence(
            metric=self.metric, candidate=comparison.candidate_mean, baseline=comparison.baseline_mean,
            delta=comparison.delta, ci_low=comparison.ci_low, ci_high=comparison.ci_high,
            confidence=context.confidence, n=comparison.n, stderr=mine.stderr, p_value=comparison.p_value,
            p_noninferiority=comparison.p_noninferiority, p_inferiority=comparison.p_inferiority,
            method=comparison.method, max_drop=self.max_drop, higher_is_better=higher, gains=comparison.gains,
            losses=comparison.losses, repeats=len(context.candidate_repeats) or None,
            run_spread=context.spread(path, relative=True),
        )
        if comparison.method == "paired-bootstrap" and comparison.n < MIN_BOOTSTRAP_ITEMS:
            return self._result("inconclusive", f"only {comparison.n} paired items: a bootstrap interval needs "
                                f"{MIN_BOOTSTRAP_ITEMS} or more to be trusted", evidence)
        verdict = decide_by_interval(evidence)
        margin = -self.max_drop if higher else self.max_drop
        noisy, noise = noise_verdict(verdict, (comparison.delta or 0.0) - margin, evidence.run_spread,
                                     len(context.candidate_repeats))
        evidence = evidence.model_copy(update={"within_noise": bool(noise) if evidence.run_spread is not None
                                               else None})
        reason = explain_verdict(verdict, evidence)
        return self._result(noisy, f"{reason}; {noise}" if noise else reason, evidence)


def _compare(candidate: np.ndarray, baseline: np.ndarray, binary: bool, higher: bool, margin: float,
             context: GateContext) -> PairedComparison:
    """Compare in the direction where larger is better, then report in the metric's own units."""
    if higher:
        oriented = (candidate, baseline)
    else:
        oriented = (1 - candidate, 1 - baseline) if binary else (-candidate, -baseline)
    if binary:
        found = compare_binary(*oriented, margin=margin, confidence=context.confidence)
    else:
        found = compare_scores(*oriented, margin=margin, confidence=context.confidence,
                               resamples=context.bootstrap_resamples, seed=context.seed)
    if higher:
        return found
    return PairedComparison(
        method=found.method, n=found.n, candidate_mean=float(candidate.mean()), baseline_mean=float(baseline.mean()),
        delta=-found.delta, ci_low=-found.ci_high, ci_high=-found.ci_low, p_value=found.p_value,
        p_noninferiority=found.p_noninferiority, p_inferiority=found.p_inferiority, gains=found.gains,
        losses=found.losses)


def decide_by_interval(evidence: Evidence) -> Verdict:
    """Pass when the whole interval is on the acceptable side of the margin, fail when it is wholly beyond it."""
    assert evidence.ci_low is not None and evidence.ci_high is not None and evidence.max_drop is not None
    if evidence.higher_is_better:
        low, high, bound = evidence.ci_low, evidence.ci_high, -evidence.max_drop
    else:
        low, high, bound = -evidence.ci_high, -evidence.ci_low, -evidence.max_drop
    if low > bound:
        return "pass"
    return "fail" if high < bound else "inconclusive"


def explain_verdict(verdict: Verdict, evidence: Evidence) -> str:
    """One line: where the interval stands against the margin (the numbers are in the evidence)."""
    assert evidence.max_drop is not None
    bound = signed(-evidence.max_drop if evidence.higher_is_better else evidence.max_drop)
    if verdict == "pass":
        side = "above" if evidence.higher_is_better else "below"
        return f"interval wholly {side} the margin {bound}: not worse than the baseline"
    if verdict == "fail":
        return f"interval wholly beyond the margin {bound}: worse than the baseline"
    return f"interval contains the margin {bound}: too few items to decide"
