"""``evalkit monitor report``: the periodic monitoring report, one section per step of the seed guide's twelve
monitoring steps that a log monitor can serve (baseline, performance, accuracy via feedback, errors, log analysis,
alerting, feedback, security, drift, versions, reporting, periodic review), plus retraining triggers. It reads
only what ingest and check stored: the monitor tables and the request partitions."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from monitor.config import MonitorConfig
from monitor.db import monitor_db, now_iso
from monitor.drift import add_flags
from monitor.storage import load_requests

Row = list[str]
_STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}")


@dataclass
class Section:
    """One report section: a title, notes, and tables of text cells."""

    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[tuple[Row, list[Row]]] = field(default_factory=list)


@dataclass
class ReportData:
    """The whole report."""

    generated_at: str
    since: str | None
    sections: list[Section]


def _num(value: object, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and pd.isna(value)) else f"{float(value):.{digits}g}"


def _window_table(windows: pd.DataFrame, metrics: list[str]) -> tuple[Row, list[Row]]:
    rows = [[str(row["start_ts"])[:19], _num(row.get("rows"), 9), *(_num(row.get(name)) for name in metrics)]
            for _, row in windows.iterrows()]
    return ["window start", "rows", *metrics], rows


def _load_windows(since: pd.Timestamp | None) -> pd.DataFrame:
    with monitor_db() as db:
        windows = pd.read_sql_query("SELECT * FROM monitor_windows WHERE status = 'ok' ORDER BY start_ts", db)
        metrics = pd.read_sql_query("SELECT * FROM monitor_window_metrics", db)
    if since is not None:
        windows = windows[pd.to_datetime(windows["end_ts"], utc=True) > since]
    wide = metrics.pivot_table(index="window_id", columns="metric", values="value", aggfunc="first") \
        if len(metrics) else pd.DataFrame()
    return windows.drop(columns=["rows", "failed_tests"]).join(wide, on="window_id") if len(wide) else windows


def _query(sql: str, since: pd.Timestamp | None, column: str) -> pd.DataFrame:
    with monitor_db() as db:
        frame = pd.read_sql_query(sql, db)
    return frame[pd.to_datetime(frame[column], utc=True) >= since] if since is not None and len(frame) else frame


def _baseline_section() -> Section:
    with monitor_db() as db:
        rows = db.execute("SELECT * FROM monitor_baselines ORDER BY created_at DESC").fetchall()
        levels = db.execute("SELECT m.metric, m.value FROM monitor_baseline_metrics m JOIN monitor_baselines b "
                            "USING (baseline_id) WHERE b.active = 1 ORDER BY m.metric").fetchall()
    table = [[row["baseline_id"], row["source"], str(row["rows"]), "yes" if row["active"] else "no"] for row in rows]
    notes = ["The reference points of the active baseline (as of the last check) are below."] if rows else \
        ["No baseline is set: run `evalkit monitor baseline --from T1 --to T2`."]
    return Section("1. Baseline", notes, [(["baseline", "source", "requests", "active"], table),
                                          (["metric", "baseline value"], [[row["metric"], _num(row["value"], 4)]
                                                                         for row in levels])])


def _versions_section(requests: pd.DataFrame) -> Section:
    if requests.empty:
        return Section("10. Model versions", ["No requests stored."])
    grouped = requests.groupby("model_version")
    stats = pd.DataFrame({"requests": grouped.size(), "error_rate": grouped["is_error"].mean(),
                          "latency_p95_ms": grouped["latency_ms"].quantile(0.95),
                          "unsafe_response_rate": grouped["is_unsafe_response"].mean(),
                          "refusal_rate": grouped["is_refusal"].mean(), "feedback_mean": grouped["feedback"].mean(),
                          "first_seen": grouped["timestamp"].min(), "last_seen": grouped["timestamp"].max()})
    rows = [[str(version), str(int(row["requests"])), _num(row["error_rate"]), _num(row["latency_p95_ms"]),
             _num(row["unsafe_response_rate"]), _num(row["refusal_rate"]), _num(row["feedback_mean"]),
             str(row["first_seen"])[:19], str(row["last_seen"])[:19]] for version, row in stats.iterrows()]
    header = ["model_version", "requests", "error_rate", "latency_p95_ms", "unsafe_response_rate", "refusal_rate",
              "feedback_mean", "first seen", "last seen"]
    return Section("10. Model versions", ["Per version over every stored request in the period."], [(header, rows)])


def _errors_section(windows: pd.DataFrame, requests: pd.DataFrame) -> Section:
    top = requests["error"].dropna().value_counts().head(10) if len(requests) else pd.Series(dtype=int)
    return Section("4. Errors", ["Most frequent error messages in the period:" if len(top) else "No errors logged."],
                   [_window_table(windows, ["error_rate"]), (["error", "count"], [[str(k), str(v)] for k, v in
                                                                               top.items()])])


def _alerts_sections(since: pd.Timestamp | None, windows: pd.DataFrame,
                     config: MonitorConfig) -> tuple[Section, Section, Section]:
    alerts = _query("SELECT * FROM monitor_alerts ORDER BY window_end", since, "window_end")
    deliveries = _query("SELECT d.*, a.window_end FROM monitor_deliveries d JOIN monitor_alerts a USING (alert_id)",
                        since, "window_end")
    retrains = _query("SELECT * FROM monitor_retrains ORDER BY started_at", since, "started_at")
    alert_rows = [[str(a["window_end"])[:19], a["rule"], a["kind"], a["severity"], a["metric"], _num(a["value"]),
                   _num(a["threshold"])] for _, a in alerts.iterrows()]
    failed = deliveries[deliveries["status"] != "ok"] if len(deliveries) else deliveries
    alerting = Section("6. Alerts", [f"{len(alerts)} alert(s); {len(deliveries)} deliveries, {len(failed)} failed."],
                       [(["window end", "rule", "kind", "severity", "metric", "value", "threshold"], alert_rows)])
    fired = alerts[alerts["kind"] == "firing"]["rule"].value_counts() if len(alerts) else pd.Series(dtype=int)
    review = [[rule.name, rule.metric, f"{rule.op} {rule.threshold:g}", str(int(fired.get(rule.name, 0))),
               f"{fired.get(rule.name, 0) / max(len(windows), 1):.0%}"] for rule in config.rules]
    periodic = Section("12. Periodic review", [
        ("Rules that fire in many windows raise false alarms (loosen them or lengthen `for:`); rules that never fire "
        "may be too loose to catch anything. Compare with the drift tables before changing a threshold.")],
        [(["rule", "metric", "condition", "times fired", "share of windows"], review)])
    retrain_rows = [[str(r["started_at"])[:19], r["rule"], r["command"], r["status"], str(r["exit_code"])]
                    for _, r in retrains.iterrows()]
    retraining = Section("Retraining triggers", ["The tuner's gate still decides promotion of what they produce."],
                         [(["started", "rule", "command", "status", "exit code"], retrain_rows)])
    return alerting, periodic, retraining


def _security_section(windows: pd.DataFrame, since: pd.Timestamp | None) -> Section:
    blocks = _query("SELECT * FROM monitor_blocklist", since, "timestamp")
    reasons = blocks["reasons"].str.extract(r'"([^"(:]+)')[0].str.strip().value_counts() if len(blocks) else \
        pd.Series(dtype=int)
    return Section("8. Security events", [f"{len(blocks)} logged response(s) on the block list."], [
        _window_table(windows, ["injection_rate", "jailbreak_rate", "unsafe_prompt_rate", "unsafe_response_rate",
                                "pii_response_rate", "leakage_rate"]),
        (["block reason", "responses"], [[str(k), str(v)] for k, v in reasons.items()])])


def build_report(config: MonitorConfig, *, since: pd.Timestamp | None = None) -> ReportData:
    """Collect the report's sections from the store.

    Args:
        config: thresholds (for per-version rates) and rules (for the periodic review).
        since: only windows, alerts and requests from this time on (None: everything).

    Returns:
        The report, ready for :func:`to_markdown` or :func:`to_html`.
    """
    windows = _load_windows(since)
    requests = load_requests(start=since)
    requests = add_flags(requests, config.thresholds) if len(requests) else requests
    ingests = _query("SELECT * FROM monitor_ingests ORDER BY created_at", since, "created_at")
    ingest_rows = [[str(i["created_at"])[:19], str(i["source"]), str(i["rows_read"]), str(i["rows_added"]),
                    str(i["duplicates"]), str(i["quarantined"])] for _, i in ingests.iterrows()]
    drift_metrics = ["text_drift.prompt", "text_drift.response", "embedding_drift.prompt",
                     "embedding_drift.response", "drifted_columns_share", "failed_tests"]
    alerting, review, retraining = _alerts_sections(since, windows, config)
    sections = [
        _baseline_section(),
        Section("2. Performance", [], [_window_table(windows, ["latency_p50_ms", "latency_p95_ms",
                                                               "prompt_tokens_mean", "completion_tokens_mean",
                                                               "tokens_total"])]),
        Section("3. Accuracy (user feedback as the proxy)", [
            ("Logs carry no ground truth; feedback scores stand in for it. Score the model on labelled data with "
            "`evalkit score` for accuracy proper.")], [_window_table(windows, ["feedback_mean",
                                                                              "negative_feedback_rate"])]),
        _errors_section(windows, requests),
        Section("5. Log analysis", [f"{len(requests)} request(s) stored in the period."],
                [(["ingested", "file", "read", "added", "already stored", "quarantined"], ingest_rows)]),
        alerting,
        Section("7. Feedback loop", [
            (f"{int((requests['is_negative_feedback'] == 1).sum()) if len(requests) else 0} request(s) with "
            "negative feedback: candidates for preference (DPO) pairs.")], []),
        _security_section(windows, since),
        Section("9. Drift", [("ROC AUC of Evidently's classifiers: 0.5 means the window cannot be told from the "
                             "reference. Reports: $EVALKIT_HOME/monitor/reports/<window>/.")],
                [_window_table(windows, drift_metrics)]),
        _versions_section(requests),
        Section("11. Documentation and reporting", [f"Generated {now_iso()} by `evalkit monitor report`."], []),
        review,
        retraining,
    ]
    return ReportData(generated_at=now_iso(), since=since.isoformat() if since is not None else None,
                      sections=sections)


def to_markdown(report: ReportData) -> str:
    """Render the report as Markdown (tables in GitHub style)."""
    lines = ["# Monitoring report", "", f"Generated {report.generated_at}" +
             (f", covering {report.since} onwards." if report.since else ", covering everything stored."), ""]
    for section in report.sections:
        lines += [f"## {section.title}", "", *[f"{note}\n" for note in section.notes]]
        for header, rows in section.tables:
            if not rows:
                continue
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines) + "\n"


def to_html(report: ReportData) -> str:
    """Render the report as one standalone HTML page."""
    head = f"<!doctype html><html><head><meta charset='utf-8'><title>Monitoring report</title><style>{_STYLE}</style>"
    parts = [head, "</head><body><h1>Monitoring report</h1>", f"<p>Generated {html.escape(report.generated_at)}</p>"]
    for section in report.sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts += [f"<p>{html.escape(note)}</p>" for note in section.notes]
        for header, rows in section.tables:
            if rows:
                parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" +
                             "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                                     for row in rows) + "</table>")
    return "".join(parts) + "</body></html>\n"
