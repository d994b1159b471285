"""Monitoring: window metrics and drift scores over time with the alert rules' thresholds and the alerts marked;
the requests behind a window (click a point, or pick the window); per-request descriptors over time; and a 2-D map
of prompt embeddings coloured by window or by flag."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from dashboards import monitor_data
from dashboards.charts import WINDOW_SELECTION, descriptor_chart, embedding_scatter, time_series
from dashboards.embedding_map import embedding_map
from dashboards.sources import db_stamp, folder_stamp
from dashboards.widgets import empty_state, number, page_header, short_time
from monitor.catalog import DESCRIPTOR_COLUMNS, FLAG_COLUMNS, WINDOW_METRICS

DEFAULT_SERIES = ("embedding_drift.prompt", "drift.latency_ms", "injection_rate", "error_rate")
WINDOW_HEADLINES = ("rows", "error_rate", "latency_p95_ms", "injection_rate", "unsafe_response_rate",
                    "embedding_drift.prompt")
BUCKETS = {"10 minutes": "10min", "1 hour": "1h", "6 hours": "6h", "1 day": "1D"}
CLICKED = "monitor_clicked_window"


def pick_series() -> pd.Series | None:
    """The checked series to show (a baseline and a window spec); the most recently checked by default."""
    series = monitor_data.series(db_stamp())
    if series.empty:
        return None
    labels = [f"{row.window_spec} windows against baseline {row.baseline_id} ({row.windows} windows)"
              for row in series.itertuples()]
    index = st.selectbox("Series", range(len(series)), format_func=labels.__getitem__, key="monitor_series") \
        if len(series) > 1 else 0
    return series.iloc[index]


def series_tiles(windows: pd.DataFrame, alerts: pd.DataFrame, incidents: pd.DataFrame) -> None:
    """Counts for the series: windows, requests, alerts fired, incidents open."""
    tiles = st.columns(4)
    tiles[0].metric("windows checked", len(windows))
    tiles[1].metric("requests in windows", f"{int(windows['rows'].sum()):,}")
    tiles[2].metric("alerts fired", int((alerts["kind"] == "firing").sum()))
    tiles[3].metric("open incidents", len(incidents))


def _remember_click(key: str) -> None:
    """On a chart's selection change, keep the clicked window (``None`` when the click cleared the selection)."""
    picked = st.session_state[key].selection.get(WINDOW_SELECTION) or []
    st.session_state[CLICKED] = next((point["window_id"] for point in picked if "window_id" in point), None)


def metric_charts(frame: pd.DataFrame, thresholds: pd.DataFrame, alerts: pd.DataFrame) -> None:
    """One time series per chosen metric; clicking a window's point on any of them selects that window."""
    names = sorted(frame["metric"].dropna().unique(), key=lambda name: (name not in DEFAULT_SERIES, name))
    chosen = st.multiselect("Metrics", names, default=[name for name in DEFAULT_SERIES if name in names],
                            key="monitor_metrics", help="; ".join(f"{name}: {WINDOW_METRICS[name]}"
                                                                   for name in names if name in WINDOW_METRICS))
    for name in chosen:
        chart = time_series(frame[frame["metric"] == name], metric=name,
                            thresholds=thresholds[thresholds["metric"] == name], alerts=alerts[alerts["metric"] == name])
        key = f"series_{name}"
        st.altair_chart(chart, width="stretch", key=key, on_select=partial(_remember_click, key))


def default_window(windows: pd.DataFrame, alerts: pd.DataFrame, clicked: str | None) -> int:
    """The window the drill-down opens on: the clicked one, else the newest that fired an alert, else the newest."""
    ids = list(windows["window_id"])
    if clicked in ids:
        return ids.index(clicked)
    fired = [window_id for window_id in alerts.loc[alerts["kind"] == "firing", "window_id"] if window_id in ids]
    return ids.index(fired[0]) if fired else len(ids) - 1


def drill_down(windows: pd.DataFrame, frame: pd.DataFrame, alerts: pd.DataFrame, clicked: str | None,
               window_spec: str) -> None:
    """The requests behind one window, with its headline metrics and alerts."""
    st.subheader("Requests behind a window")
    labels = [f"{short_time(row.start)} – {short_time(row.end)} ({row.rows} requests)" for row in windows.itertuples()]
    index = st.selectbox("Window", range(len(windows)), index=default_window(windows, alerts, clicked),
                         format_func=labels.__getitem__, key=f"monitor_window_{clicked}")
    window = windows.iloc[index]
    values = frame[frame["window_id"] == window["window_id"]].set_index("metric")["value"]
    tiles = st.columns(len(WINDOW_HEADLINES))
    for tile, name in zip(tiles, WINDOW_HEADLINES, strict=True):
        tile.metric(name, number(values.get(name), 0 if name == "rows" else 3))
    for row in alerts[alerts["window_id"] == window["window_id"]].itertuples():
        (st.error if row.kind == "firing" else st.success)(row.message)
    requests = monitor_data.window_requests(monitor_data.requests_stamp(), window["start"].isoformat(),
                                            window["end"].isoformat(), window_spec.endswith("rows"))
    flag = st.selectbox("Show", ["all requests", *FLAG_COLUMNS], key="monitor_flag")
    shown = requests if flag == "all requests" else requests[requests[flag] == 1]
    st.caption(f"{len(shown)} of {len(requests)} requests")
    st.dataframe(shown, hide_index=True, width="stretch", height=320)


def descriptors_over_time() -> None:
    """A per-request descriptor aggregated over time buckets of every stored request."""
    st.subheader("Descriptors over time")
    columns = st.columns(2)
    descriptor = columns[0].selectbox("Descriptor", list(DESCRIPTOR_COLUMNS), key="monitor_descriptor",
                                      index=list(DESCRIPTOR_COLUMNS).index("latency_ms"))
    bucket = columns[1].selectbox("Bucket", list(BUCKETS), index=0, key="monitor_bucket")
    frame = monitor_data.descriptor_series(monitor_data.requests_stamp(), descriptor, BUCKETS[bucket])
    st.caption(DESCRIPTOR_COLUMNS[descriptor])
    if frame.empty:
        empty_state("No request is stored.", "evalkit monitor ingest LOGS")
        return
    st.altair_chart(descriptor_chart(frame, descriptor), width="stretch")


def prompt_map(series: pd.Series, windows: pd.DataFrame) -> None:
    """The 2-D map of the baseline's and the windows' prompt embeddings."""
    st.subheader("Prompt embeddings")
    columns = st.columns(2)
    color = columns[0].selectbox("Colour by", ["window", *FLAG_COLUMNS], key="monitor_map_color")
    per_window = columns[1].select_slider("Prompts per window", [100, 200, 400, 800], value=400, key="monitor_map_n")
    spans = tuple((short_time(row.start), row.start.isoformat(), row.end.isoformat()) for row in windows.itertuples())
    points = embedding_map(monitor_data.requests_stamp(), folder_stamp("monitor", "embeddings"),
                           series["baseline_id"], spans, per_window)
    if points.empty:
        empty_state("No embeddings to draw: the baseline's rows or their cached vectors are missing.")
        return
    st.caption(f"{len(points)} prompts (baseline and window starts in UTC) on the first two principal components "
               "of their embeddings")
    st.altair_chart(embedding_scatter(points, color), width="stretch")


def render() -> None:
    """The monitoring page."""
    page_header("Monitoring", "Live traffic against its baseline: window metrics and drift scores with the alert "
                "rules' thresholds (dashed) and alerts (triangles). Click a point to see its requests.")
    series = pick_series()
    if series is None:
        empty_state("No window has been checked yet.", "evalkit monitor ingest LOGS && evalkit monitor baseline "
                    "--from T1 --to T2 && evalkit monitor check --window 1h")
        descriptors_over_time()
        return
    _, problem = monitor_data.monitor_config(monitor_data.config_stamp())
    if problem:
        st.warning(f"{problem}: thresholds are not drawn.")
    frame = monitor_data.window_metrics(db_stamp(), series["baseline_id"], series["window_spec"])
    windows = monitor_data.windows(db_stamp(), series["baseline_id"], series["window_spec"])
    alerts = monitor_data.alerts(db_stamp())
    alerts = alerts[alerts["window_id"].isin(windows["window_id"])]
    incidents = monitor_data.open_incidents(db_stamp())
    incidents = incidents[(incidents["baseline_id"] == series["baseline_id"]) &
                          (incidents["window_spec"] == series["window_spec"])]
    series_tiles(windows, alerts, incidents)
    thresholds = monitor_data.thresholds(db_stamp(), monitor_data.config_stamp(), series["baseline_id"])
    metric_charts(frame, thresholds, alerts)
    with st.expander(f"Alerts ({len(alerts)})", expanded=not alerts.empty):
        st.dataframe(alerts[["window_end", "rule", "kind", "severity", "metric", "value", "threshold", "message"]],
                     hide_index=True, width="stretch",
                     column_config={"value": st.column_config.NumberColumn(format="%.4g")})
    drill_down(windows, frame, alerts, st.session_state.get(CLICKED), series["window_spec"])
    descriptors_over_time()
    prompt_map(series, windows)


render()
