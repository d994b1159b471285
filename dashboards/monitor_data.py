"""Cached reads of what the monitor stores: window summaries and their metrics, incidents and alerts (SQLite), the
alert rules' thresholds (the monitor config), and the requests behind a window (Parquet partitions).

Aggregation happens in SQL or pandas; request rows are read column by column from Parquet with the time range
pushed down to the reader, so a page over 100,000 stored requests reads only what it shows.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.sources import Stamp, query, stamp
from evalkit.home import evalkit_home
from monitor._errors import MonitorError
from monitor.catalog import DESCRIPTOR_COLUMNS, FLAG_COLUMNS
from monitor.config import MonitorConfig, config_path, load_config
from monitor.storage import load_requests, read_frame

SERIES_COLUMNS = ["baseline_id", "window_spec", "windows", "first_start", "last_end", "last_checked"]
WINDOW_COLUMNS = ["window_id", "start", "end", "rows", "status", "failed_tests", "metric", "value"]
ALERT_COLUMNS = ["alert_id", "incident_id", "rule", "kind", "severity", "window_id", "window_end", "metric", "value",
                 "threshold", "message", "created_at"]
INCIDENT_COLUMNS = ["incident_id", "rule", "severity", "metric", "op", "threshold", "baseline_id", "window_spec",
                    "opened_at", "opened_window", "last_value"]
THRESHOLD_COLUMNS = ["rule", "metric", "op", "threshold", "against", "line", "severity"]
# What the drill-down table shows of each request (flags are added from the config's thresholds).
REQUEST_VIEW = ["timestamp", "request_id", "model_version", "prompt", "response", "latency_ms", "prompt_tokens",
                "completion_tokens", "error", "feedback"]
FLAG_INPUTS = ["error", "feedback", "injection_pattern", *DESCRIPTOR_COLUMNS]


def _times(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


@st.cache_data(show_spinner=False)
def series(db: Stamp) -> pd.DataFrame:
    """Each checked series (a baseline and a window spec), most recently checked first."""
    del db
    frame = query("SELECT baseline_id, window_spec, COUNT(*) AS windows, MIN(start_ts) AS first_start, "
                  "MAX(end_ts) AS last_end, MAX(checked_at) AS last_checked FROM monitor_windows "
                  "GROUP BY baseline_id, window_spec ORDER BY last_checked DESC", columns=SERIES_COLUMNS)
    return _times(frame, "first_start", "last_end")


@st.cache_data(show_spinner="Reading window summaries…")
def window_metrics(db: Stamp, baseline_id: str, window_spec: str) -> pd.DataFrame:
    """Every metric of every window of one series, in long form (one row per window and metric), oldest first."""
    del db
    frame = query("SELECT w.window_id, w.start_ts AS start, w.end_ts AS end, w.rows, w.status, w.failed_tests, "
                  "m.metric, m.value FROM monitor_windows w LEFT JOIN monitor_window_metrics m USING (window_id) "
                  "WHERE w.baseline_id = ? AND w.window_spec = ? ORDER BY w.start_ts, m.metric",
                  (baseline_id, window_spec), columns=WINDOW_COLUMNS)
    return _times(frame, "start", "end")


def windows(db: Stamp, baseline_id: str, window_spec: str) -> pd.DataFrame:
    """One row per window of a series (window_id, start, end, rows, status, failed_tests), oldest first."""
    frame = window_metrics(db, baseline_id, window_spec)
    return frame.drop(columns=["metric", "value"]).drop_duplicates("window_id").reset_index(drop=True)


@st.cache_data(show_spinner=False)
def alerts(db: Stamp) -> pd.DataFrame:
    """Every alert the rules raised (firing, resolved, suppressed), newest first."""
    del db
    frame = query(f"SELECT {', '.join(ALERT_COLUMNS)} FROM monitor_alerts ORDER BY window_end DESC, created_at DESC",
                  columns=ALERT_COLUMNS)
    return _times(frame, "window_end")


@st.cache_data(show_spinner=False)
def open_incidents(db: Stamp) -> pd.DataFrame:
    """Incidents that are still open, newest first, with the value of the alert that opened each."""
    del db
    frame = query("SELECT i.incident_id, i.rule, i.severity, i.metric, i.op, i.threshold, i.baseline_id, "
                  "i.window_spec, i.opened_at, i.opened_window, (SELECT a.value FROM monitor_alerts a WHERE "
                  "a.incident_id = i.incident_id ORDER BY a.created_at DESC LIMIT 1) AS last_value "
                  "FROM monitor_incidents i WHERE i.status = 'open' ORDER BY i.opened_at DESC",
                  columns=INCIDENT_COLUMNS)
    return _times(frame, "opened_at")


def config_stamp() -> Stamp:
    """Stamp of the monitor config file in use."""
    return stamp(config_path(None))


@st.cache_data(show_spinner=False)
def monitor_config(config: Stamp) -> tuple[MonitorConfig | None, str | None]:
    """The monitor config (``$EVALKIT_HOME/monitor/config.yaml``, else the bundled default), or the error that
    stops it from loading."""
    del config
    try:
        return load_config(), None
    except MonitorError as error:
        return None, str(error)


@st.cache_data(show_spinner=False)
def thresholds(db: Stamp, config: Stamp, baseline_id: str) -> pd.DataFrame:
    """The alert rules as lines on a chart: each rule's threshold in the metric's own units (for ``against:
    baseline`` rules, the baseline's value plus the threshold)."""
    settings, _ = monitor_config(config)
    if settings is None:
        return pd.DataFrame(columns=THRESHOLD_COLUMNS)
    levels = query("SELECT metric, value FROM monitor_baseline_metrics WHERE baseline_id = ?", (baseline_id,),
                   columns=["metric", "value"]).set_index("metric")["value"].to_dict()
    rows = []
    for rule in settings.rules:
        reference = levels.get(rule.metric) if rule.against == "baseline" else 0.0
        if reference is None:
            continue
        rows.append({"rule": rule.name, "metric": rule.metric, "op": rule.op, "threshold": rule.threshold,
                     "against": rule.against, "line": reference + rule.threshold, "severity": rule.severity})
    return pd.DataFrame(rows, columns=THRESHOLD_COLUMNS)


def requests_stamp() -> Stamp:
    """Stamp of the stored request partitions and of the monitor config (whose thresholds set the flags)."""
    return stamp(evalkit_home() / "monitor" / "requests", config_path(None))


def with_flags(frame: pd.DataFrame, config: Stamp) -> pd.DataFrame:
    """Add the monitor's 0/1 request flags (``is_injection``, ...) computed with the config's thresholds."""
    from monitor.drift import add_flags

    settings, _ = monitor_config(config)
    return add_flags(frame, (settings or MonitorConfig()).thresholds)


@st.cache_data(show_spinner="Reading the window's requests…", max_entries=16)
def window_requests(requests: Stamp, start: str, end: str, inclusive_end: bool) -> pd.DataFrame:
    """The stored requests of one window, with their flags.

    Args:
        requests: :func:`requests_stamp` (the cache key).
        start: the window's start (ISO 8601).
        end: its end (exclusive for time windows).
        inclusive_end: include requests at ``end`` (row windows end at their last request).

    Returns:
        :data:`REQUEST_VIEW` columns plus one column per flag, in time order.
    """
    stop = pd.Timestamp(end) + (pd.Timedelta(1, "ns") if inclusive_end else pd.Timedelta(0))
    frame = load_requests(columns=[*REQUEST_VIEW, *FLAG_INPUTS], start=pd.Timestamp(start), end=stop)
    flagged = with_flags(frame, config_stamp())
    return flagged[[*REQUEST_VIEW, *FLAG_COLUMNS]]


@st.cache_data(show_spinner="Aggregating requests…", max_entries=16)
def descriptor_series(requests: Stamp, descriptor: str, freq: str) -> pd.DataFrame:
    """A per-request descriptor aggregated over time buckets of every stored request.

    Args:
        requests: :func:`requests_stamp` (the cache key).
        descriptor: a column of :data:`monitor.catalog.DESCRIPTOR_COLUMNS`.
        freq: the bucket, a pandas frequency such as ``10min`` or ``1h``.

    Returns:
        Columns time, statistic (mean, p95) and value, plus a requests count per bucket, in long form.
    """
    frame = load_requests(columns=[descriptor])
    if frame.empty:
        return pd.DataFrame(columns=["time", "statistic", "value", "requests"])
    buckets = frame.set_index("timestamp")[descriptor].resample(freq)
    wide = pd.DataFrame({"mean": buckets.mean(), "p95": buckets.quantile(0.95), "requests": buckets.count()})
    wide = wide[wide["requests"] > 0].rename_axis("time").reset_index()
    return wide.melt(id_vars=["time", "requests"], value_vars=["mean", "p95"], var_name="statistic")


def baseline_frame(baseline_id: str, columns: list[str]) -> pd.DataFrame:
    """The frozen rows of a baseline (selected columns); empty when the baseline or its file is gone."""
    found = query("SELECT path FROM monitor_baselines WHERE baseline_id = ?", (baseline_id,), columns=["path"])
    if found.empty:
        return read_frame([], columns=columns)
    try:
        return read_frame([found.iloc[0]["path"]], columns=columns)
    except (OSError, ValueError):
        return read_frame([], columns=columns)
