"""Two runs side by side: per-metric deltas B - A with the independent-samples interval of
:func:`evalkit.compare.compare`, and the paired test the gate would run on the same items (the ``relative`` check:
McNemar with Newcombe's interval for 0/1 items, the paired bootstrap otherwise)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards.runs_data import Z95, metric_label
from dashboards.sources import file_stamp
from evalkit.compare import MetricDelta, compare
from evalkit.errors import GateError
from evalkit.gate.checks import GateContext, RelativeCheck
from evalkit.gate.inputs import RunInput, load_run

COMPARE_COLUMNS = ["metric_path", "task", "metric", "filter", "value_a", "value_b", "delta", "ci_low", "ci_high",
                   "paired_delta", "paired_low", "paired_high", "p_value", "method", "n", "verdict", "reason"]
# Resamples of the paired bootstrap: enough for a stable 95% interval, few enough to keep the page fast.
BOOTSTRAP_RESAMPLES = 2000


def _paired(delta: MetricDelta, candidate: RunInput, baseline: RunInput, *, margin: float,
            confidence: float) -> dict[str, Any]:
    path = metric_label(delta.task, delta.metric, delta.filter)
    check = RelativeCheck(name=path, metric=path, max_drop=margin)
    context = GateContext(candidate=candidate, baseline=baseline, confidence=confidence,
                          bootstrap_resamples=BOOTSTRAP_RESAMPLES)
    try:
        result = check.evaluate(context)
    except GateError as error:
        return {"verdict": "not paired", "reason": str(error)}
    evidence = result.evidence
    return {"paired_delta": evidence.delta, "paired_low": evidence.ci_low, "paired_high": evidence.ci_high,
            "p_value": evidence.p_value, "method": evidence.method, "n": evidence.n, "verdict": result.verdict,
            "reason": result.reason}


@st.cache_data(show_spinner="Pairing items and testing each metric…", max_entries=32)
def _compare(scorecard_a: str, scorecard_b: str, mtimes: tuple[int, int], margin: float,
             confidence: float) -> pd.DataFrame:
    del mtimes
    baseline, candidate = load_run(scorecard_a), load_run(scorecard_b)
    rows = []
    for delta in compare(baseline.scorecard, candidate.scorecard):
        row: dict[str, Any] = {
            "metric_path": metric_label(delta.task, delta.metric, delta.filter), "task": delta.task,
            "metric": delta.metric, "filter": delta.filter, "value_a": delta.value_a, "value_b": delta.value_b,
            "delta": delta.delta}
        if delta.delta is not None and delta.delta_stderr is not None:
            row["ci_low"] = delta.delta - Z95 * delta.delta_stderr
            row["ci_high"] = delta.delta + Z95 * delta.delta_stderr
        if delta.delta is None:
            row |= {"verdict": "only in one run", "reason": "the metric is missing from one of the runs"}
        else:
            row |= _paired(delta, candidate, baseline, margin=margin, confidence=confidence)
        rows.append(row)
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def compare_runs(run_a: str, run_b: str, *, margin: float, confidence: float) -> pd.DataFrame:
    """Compare run B (candidate) with run A (baseline), metric by metric.

    Args:
        run_a: run folder of the baseline.
        run_b: run folder of the candidate.
        margin: the non-inferiority margin of the paired verdict (the gate's ``max_drop``).
        confidence: the two-sided level of both intervals' paired test (the independent one is always 95%).

    Returns:
        One row per metric with :data:`COMPARE_COLUMNS`: values, delta with its independent 95% interval, the
        paired delta with its interval, p-value of "no difference", method, paired items and the gate's verdict
        (pass: not worse than the margin; fail: worse; inconclusive: too few items; ``not paired`` with the
        reason when the metric has no per-item scores).

    Raises:
        GateError: a run's scorecard is unreadable.
    """
    path_a, path_b = f"{run_a}/scorecard.json", f"{run_b}/scorecard.json"
    return _compare(path_a, path_b, (file_stamp(path_a), file_stamp(path_b)), margin, confidence)
