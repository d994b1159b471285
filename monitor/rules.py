"""Alert rules over the series of window summaries: ``metric op threshold`` for ``for`` consecutive windows opens an
incident and fires an alert, unless the rule fired within ``cooldown`` (then the alert is recorded as
``suppressed``); the first window where the condition no longer holds resolves the incident. Time is data time
(window ends), so re-checking old logs gives the same alerts as checking them live."""

from __future__ import annotations

import operator
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from monitor.config import AlertRule, MonitorConfig
from monitor.db import now_iso

_OPS: dict[str, Callable[[float, float], bool]] = {">": operator.gt, ">=": operator.ge, "<": operator.lt,
                                                   "<=": operator.le, "==": operator.eq, "!=": operator.ne}


@dataclass(frozen=True)
class WindowSummary:
    """A checked window as the rules see it."""

    window_id: str
    start: str
    end: str
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class AlertEvent:
    """An alert a rule raised on a window."""

    alert_id: str
    incident_id: str | None
    rule: AlertRule
    kind: str
    window: WindowSummary
    value: float | None
    baseline_value: float | None
    message: str

    def payload(self) -> dict[str, object]:
        """Return the JSON body that sinks deliver."""
        return {"alert_id": self.alert_id, "incident_id": self.incident_id, "rule": self.rule.name,
                "status": self.kind, "severity": self.rule.severity, "metric": self.rule.metric,
                "value": self.value, "against": self.rule.against, "baseline_value": self.baseline_value,
                "op": self.rule.op, "threshold": self.rule.threshold,
                "window_start": self.window.start, "window_end": self.window.end, "window_id": self.window.window_id,
                "description": self.rule.description, "message": self.message}


def compared_value(rule: AlertRule, metrics: dict[str, float | None], baseline: dict[str, float | None]
                   ) -> float | None:
    """Return what a rule compares with its threshold: the window's value, or its change from the baseline's value
    (``against: baseline``); None when a value is missing."""
    value = metrics.get(rule.metric)
    if rule.against == "absolute" or value is None:
        return value
    reference = baseline.get(rule.metric)
    return None if reference is None else value - reference


def holds(rule: AlertRule, value: float | None) -> bool:
    """Return whether a rule's condition holds for a compared value (a missing value never holds)."""
    return value is not None and _OPS[rule.op](value, rule.threshold)


def load_series(db: sqlite3.Connection, baseline_id: str, window_spec: str) -> list[WindowSummary]:
    """Return the checked windows of one baseline and window spec, oldest first, with their metrics."""
    windows = db.execute("SELECT window_id, start_ts, end_ts FROM monitor_windows WHERE baseline_id = ? AND "
                         "window_spec = ? AND status = 'ok' ORDER BY start_ts", (baseline_id, window_spec)).fetchall()
    metrics: dict[str, dict[str, float | None]] = {row["window_id"]: {} for row in windows}
    query = ("SELECT m.window_id, m.metric, m.value FROM monitor_window_metrics m JOIN monitor_windows w USING "
             "(window_id) WHERE w.baseline_id = ? AND w.window_spec = ?")
    for row in db.execute(query, (baseline_id, window_spec)):
        metrics.setdefault(row["window_id"], {})[row["metric"]] = row["value"]
    return [WindowSummary(row["window_id"], row["start_ts"], row["end_ts"], metrics[row["window_id"]])
            for row in windows]


def _message(rule: AlertRule, kind: str, value: float | None, baseline_value: float | None,
             window: WindowSummary) -> str:
    shown = "n/a" if value is None else f"{value:.4g}"
    if rule.against == "baseline":
        change = "n/a" if value is None or baseline_value is None else f"{value - baseline_value:+.4g}"
        shown += f", {change} from the baseline's {'n/a' if baseline_value is None else f'{baseline_value:.4g}'}"
        condition = f"change {rule.op} {rule.threshold:g}"
    else:
        condition = f"{rule.op} {rule.threshold:g}"
    state = {"firing": condition, "resolved": f"no longer {condition}",
             "suppressed": f"{condition} (in cooldown {rule.cooldown})"}[kind]
    return f"[{rule.severity}] {rule.name}: {rule.metric} = {shown}; {state}; window {window.start} .. {window.end}"


def _cooling(db: sqlite3.Connection, rule: AlertRule, window: WindowSummary) -> bool:
    row = db.execute("SELECT MAX(window_end) AS last FROM monitor_alerts WHERE rule = ? AND kind = 'firing'",
                     (rule.name,)).fetchone()
    if row["last"] is None or rule.cooldown_s <= 0:
        return False
    return (pd.Timestamp(window.end) - pd.Timestamp(row["last"])).total_seconds() < rule.cooldown_s


def _record(db: sqlite3.Connection, rule: AlertRule, kind: str, window: WindowSummary, incident_id: str | None,
            baseline: dict[str, float | None]) -> AlertEvent:
    value, baseline_value = window.metrics.get(rule.metric), baseline.get(rule.metric)
    event = AlertEvent(alert_id=secrets.token_hex(8), incident_id=incident_id, rule=rule, kind=kind, window=window,
                       value=value, baseline_value=baseline_value,
                       message=_message(rule, kind, value, baseline_value, window))
    db.execute("INSERT INTO monitor_alerts VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
               (event.alert_id, incident_id, rule.name, kind, rule.severity, window.window_id, window.end,
                rule.metric, value, rule.threshold, event.message, now_iso()))
    return event


def _streak(rule: AlertRule, series: list[WindowSummary], baseline: dict[str, float | None]) -> int:
    count = 0
    for window in reversed(series):
        if not holds(rule, compared_value(rule, window.metrics, baseline)):
            break
        count += 1
    return count


def evaluate(db: sqlite3.Connection, config: MonitorConfig, baseline_id: str, window_spec: str) -> list[AlertEvent]:
    """Apply every rule to the newest window of a series and record incidents and alerts.

    Args:
        db: an open monitor database (see :func:`monitor.db.monitor_db`).
        config: the rules.
        baseline_id: the series' baseline.
        window_spec: the series' window spec (e.g. ``1h`` or ``500rows``).

    Returns:
        The alerts raised on the newest window (firing, resolved or suppressed), in rule order.
    """
    series = load_series(db, baseline_id, window_spec)
    if not series:
        return []
    baseline = {row["metric"]: row["value"] for row in db.execute(
        "SELECT metric, value FROM monitor_baseline_metrics WHERE baseline_id = ?", (baseline_id,))}
    window, events = series[-1], []
    for rule in config.rules:
        incident = db.execute("SELECT incident_id FROM monitor_incidents WHERE rule = ? AND baseline_id = ? AND "
                              "window_spec = ? AND status = 'open'", (rule.name, baseline_id, window_spec)).fetchone()
        if not holds(rule, compared_value(rule, window.metrics, baseline)):
            if incident is not None:
                db.execute("UPDATE monitor_incidents SET status = 'resolved', resolved_window = ?, resolved_at = ? "
                           "WHERE incident_id = ?", (window.window_id, window.end, incident["incident_id"]))
                events.append(_record(db, rule, "resolved", window, incident["incident_id"], baseline))
            continue
        if incident is not None or _streak(rule, series, baseline) < rule.for_windows:
            continue
        if _cooling(db, rule, window):
            events.append(_record(db, rule, "suppressed", window, None, baseline))
            continue
        incident_id = secrets.token_hex(8)
        db.execute("INSERT INTO monitor_incidents VALUES (?,?,?,?,?,?,?,?,?,?,NULL,NULL,'open')",
                   (incident_id, rule.name, rule.severity, rule.metric, rule.op, rule.threshold, baseline_id,
                    window_spec, window.window_id, window.end))
        events.append(_record(db, rule, "firing", window, incident_id, baseline))
    return events
