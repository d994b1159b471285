"""Compare: two runs side by side; per metric the delta B - A with its interval and the gate's paired verdict."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import runs_data
from dashboards.charts import VERDICT_COLORS, interval_chart
from dashboards.compare_data import compare_runs
from dashboards.sources import db_stamp
from dashboards.widgets import empty_state, page_header, pick_run, short_time
from evalkit.errors import GateError

CONFIDENCES = (0.9, 0.95, 0.99)


def run_card(title: str, run: pd.Series) -> None:
    """What one side of the comparison is."""
    with st.container(border=True):
        st.markdown(f"**{title}** · `{run['spec']}`")
        st.caption(f"{run['run_id']} · suite {run['suite'] or '–'} · {short_time(run['created_at'])} UTC")


def verdict_counts(frame: pd.DataFrame) -> None:
    """How many metrics each paired verdict got."""
    counts = frame["verdict"].value_counts()
    tiles = st.columns(4)
    for tile, verdict in zip(tiles, ("pass", "fail", "inconclusive", "not paired"), strict=True):
        tile.metric(verdict, int(counts.get(verdict, 0)))


def deltas_chart(frame: pd.DataFrame, margin: float) -> None:
    """Paired deltas with their intervals (the independent interval where items could not be paired)."""
    charted = frame.assign(
        shown=frame["paired_delta"].fillna(frame["delta"]), low=frame["paired_low"].fillna(frame["ci_low"]),
        high=frame["paired_high"].fillna(frame["ci_high"])).dropna(subset=["shown"])
    if charted.empty:
        return
    st.altair_chart(interval_chart(charted, category="metric_path", value="shown", low="low", high="high",
                                   color="verdict", color_scale=VERDICT_COLORS,
                                   reference_lines={"no change": 0.0, "margin": -margin}, axis_title="B - A",
                                   title="B - A per metric (paired interval)"), width="stretch")


def _interval(low: float | None, high: float | None) -> str:
    return f"[{low:+.4f}, {high:+.4f}]" if runs_data.finite(low) and runs_data.finite(high) else ""


def deltas_table(frame: pd.DataFrame) -> None:
    """Every metric: both values, the independent and the paired interval, the test and the verdict."""
    table = frame.assign(
        ci=[_interval(low, high) for low, high in zip(frame["ci_low"], frame["ci_high"], strict=True)],
        paired_ci=[_interval(low, high) for low, high in zip(frame["paired_low"], frame["paired_high"], strict=True)])
    st.dataframe(table[["metric_path", "value_a", "value_b", "delta", "ci", "paired_delta", "paired_ci", "p_value",
                        "method", "n", "verdict", "reason"]], hide_index=True, width="stretch", column_config={
        "value_a": st.column_config.NumberColumn("A", format="%.4f"),
        "value_b": st.column_config.NumberColumn("B", format="%.4f"),
        "delta": st.column_config.NumberColumn("B - A", format="%+.4f"),
        "ci": "95% CI (independent)",
        "paired_delta": st.column_config.NumberColumn("paired B - A", format="%+.4f"),
        "paired_ci": "paired CI", "p_value": st.column_config.NumberColumn("p", format="%.3g")})


def render() -> None:
    """The compare page."""
    page_header("Compare", "Run B against run A: deltas with intervals and the gate's paired test on the same items. "
                "A verdict is the gate's non-inferiority call at the margin: pass means B is not worse than A by "
                "more than the margin.")
    runs = runs_data.finished_runs(db_stamp())
    if len(runs) < 2:
        empty_state("Comparing needs two finished runs.", "evalkit score CHECKPOINT --suite quick")
        return
    sides = st.columns(2)
    with sides[0]:
        run_a = pick_run("Run A (baseline)", runs, key="compare_a", index=1)
    with sides[1]:
        run_b = pick_run("Run B (candidate)", runs, key="compare_b", index=0)
    controls = st.columns(2)
    margin = controls[0].number_input("Margin (allowed drop)", min_value=0.0, max_value=0.5, value=0.02, step=0.01,
                                      format="%.3f", key="compare_margin")
    confidence = controls[1].selectbox("Confidence", CONFIDENCES, index=1, key="compare_confidence")
    sides = st.columns(2)
    with sides[0]:
        run_card("A", run_a)
    with sides[1]:
        run_card("B", run_b)
    try:
        frame = compare_runs(run_a["path"], run_b["path"], margin=margin, confidence=confidence)
    except GateError as error:
        st.error(str(error))
        return
    if frame.empty:
        empty_state("The two runs have no task metrics.")
        return
    verdict_counts(frame)
    deltas_chart(frame, margin)
    deltas_table(frame)


render()
