"""Overview: the production model, the last gate verdict, open alerts and the last drift status, on one screen."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import monitor_data, registry_data, runs_data
from dashboards.sources import db_stamp, folder_stamp
from dashboards.widgets import empty_state, gate_report, number, page_header, short_time

# Drift scores shown for the last window, in this order, when it has them.
DRIFT_HEADLINES = ("embedding_drift.prompt", "text_drift.response", "drift.latency_ms", "drifted_columns_share")


def production_tile() -> None:
    """Which version ``production`` (and ``candidate``) point at."""
    st.subheader("Production model")
    production = registry_data.alias_target(db_stamp(), "production")
    if production is None:
        empty_state("No version is in production yet.", "evalkit registry promote VERSION --policy POLICY")
        return
    st.metric("production", production["version_id"])
    st.markdown(f"`{production['spec']}` · since {short_time(production['updated_at'])} UTC")
    candidate = registry_data.alias_target(db_stamp(), "candidate")
    if candidate is not None:
        st.caption(f"candidate: {candidate['version_id']} (`{candidate['spec']}`)")


def gate_tile() -> None:
    """The most recent gate result."""
    st.subheader("Last gate")
    gates = registry_data.gate_index(folder_stamp("gates"))
    result = registry_data.gate_result(gates.iloc[0]["gate_id"], folder_stamp("gates")) if len(gates) else None
    if result is None:
        empty_state("No gate has run yet.", "evalkit gate --policy POLICY --candidate RUN --baseline RUN")
        return
    st.metric("verdict", result.verdict.upper())
    gate_report(result, compact=True)


def alerts_tile() -> None:
    """Incidents that are still open."""
    st.subheader("Open alerts")
    incidents = monitor_data.open_incidents(db_stamp())
    st.metric("open incidents", len(incidents))
    if incidents.empty:
        st.caption("No rule is firing.")
        return
    shown = incidents.assign(opened=incidents["opened_at"].map(short_time))
    st.dataframe(shown[["rule", "severity", "metric", "last_value", "threshold", "opened"]], hide_index=True,
                 width="stretch")


def drift_tile() -> None:
    """The newest checked window: its size, failed drift tests, headline drift scores and alerts."""
    st.subheader("Last drift check")
    series = monitor_data.series(db_stamp())
    if series.empty:
        empty_state("No window has been checked yet.", "evalkit monitor check --window 1h")
        return
    latest = series.iloc[0]
    frame = monitor_data.window_metrics(db_stamp(), latest["baseline_id"], latest["window_spec"])
    window = frame[frame["window_id"] == frame["window_id"].iloc[-1]]
    values = dict(zip(window["metric"], window["value"], strict=True))
    first = window.iloc[0]
    st.metric("failed drift tests", int(first["failed_tests"]) if pd.notna(first["failed_tests"]) else "–")
    st.caption(f"window {short_time(first['start'])} – {short_time(first['end'])} UTC ({latest['window_spec']}, "
               f"{int(first['rows'])} requests)")
    shown = [f"{name} **{number(values[name])}**" for name in DRIFT_HEADLINES if name in values]
    st.markdown(" · ".join(shown))
    fired = monitor_data.alerts(db_stamp())
    fired = fired[(fired["window_id"] == first["window_id"]) & (fired["kind"] == "firing")]
    for row in fired.itertuples():
        st.error(row.message, icon=":material/notifications_active:")


def recent_runs() -> None:
    """The five newest runs."""
    st.subheader("Recent runs")
    runs = runs_data.runs(db_stamp())
    if runs.empty:
        empty_state("No run is stored yet.", "evalkit score smollm2 --suite quick")
        return
    shown = runs.head(5).assign(created=runs["created_at"].map(short_time))
    st.dataframe(shown[["run_id", "status", "spec", "suite", "created"]], hide_index=True, width="stretch")


def render() -> None:
    """The overview page."""
    page_header("Overview", "What is in production, whether it passed its gate, and how live traffic looks.")
    top = st.columns(2, border=True)
    with top[0]:
        production_tile()
    with top[1]:
        gate_tile()
    bottom = st.columns(2, border=True)
    with bottom[0]:
        alerts_tile()
    with bottom[1]:
        drift_tile()
    recent_runs()


render()
