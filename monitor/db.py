"""The monitor's tables in the project's SQLite (``evalkit.store.connect()``), which the dashboard reads.

- ``monitor_ingests``: one row per ingested file (rows read, added, already stored, quarantined).
- ``monitor_baselines``: reference windows; the newest ``active`` one is used by ``check``.
- ``monitor_baseline_metrics``: the baseline's own levels (error rate, latency, rates...), the reference points
  that rules with ``against: baseline`` compare with.
- ``monitor_windows`` and ``monitor_window_metrics``: one summary per checked window, metrics in long form
  (``window_id, metric, value``) so a time series is one query.
- ``monitor_incidents``, ``monitor_alerts``, ``monitor_deliveries``: rule incidents (open → resolved), the alerts
  they raised (``firing``, ``resolved``, ``suppressed`` by cooldown) and every sink delivery with its attempts.
- ``monitor_blocklist``: logged responses that screening blocks, with the reasons.
- ``monitor_retrains``: retrain commands started by ``action: retrain`` rules, one per incident.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from evalkit.store import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_ingests (
    ingest_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, source TEXT NOT NULL, source_sha256 TEXT NOT NULL,
    rows_read INTEGER NOT NULL, rows_added INTEGER NOT NULL, duplicates INTEGER NOT NULL,
    quarantined INTEGER NOT NULL, quarantine_path TEXT, blocked INTEGER NOT NULL, seconds REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_baselines (
    baseline_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, source TEXT NOT NULL, from_ts TEXT, to_ts TEXT,
    rows INTEGER NOT NULL, path TEXT NOT NULL, active INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_baseline_metrics (
    baseline_id TEXT NOT NULL, metric TEXT NOT NULL, value REAL, PRIMARY KEY (baseline_id, metric)
);
CREATE TABLE IF NOT EXISTS monitor_windows (
    window_id TEXT PRIMARY KEY, baseline_id TEXT NOT NULL, window_spec TEXT NOT NULL, start_ts TEXT NOT NULL,
    end_ts TEXT NOT NULL, rows INTEGER NOT NULL, status TEXT NOT NULL, failed_tests INTEGER,
    report_path TEXT, checked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS monitor_windows_series ON monitor_windows (baseline_id, window_spec, start_ts);
CREATE TABLE IF NOT EXISTS monitor_window_metrics (
    window_id TEXT NOT NULL, metric TEXT NOT NULL, value REAL, PRIMARY KEY (window_id, metric)
);
CREATE TABLE IF NOT EXISTS monitor_incidents (
    incident_id TEXT PRIMARY KEY, rule TEXT NOT NULL, severity TEXT NOT NULL, metric TEXT NOT NULL,
    op TEXT NOT NULL, threshold REAL NOT NULL, baseline_id TEXT NOT NULL, window_spec TEXT NOT NULL,
    opened_window TEXT NOT NULL, opened_at TEXT NOT NULL, resolved_window TEXT, resolved_at TEXT,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_alerts (
    alert_id TEXT PRIMARY KEY, incident_id TEXT, rule TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    window_id TEXT NOT NULL, window_end TEXT NOT NULL, metric TEXT NOT NULL, value REAL, threshold REAL NOT NULL,
    message TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_deliveries (
    alert_id TEXT NOT NULL, sink TEXT NOT NULL, sink_type TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL, error TEXT, finished_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_blocklist (
    request_id TEXT PRIMARY KEY, timestamp TEXT NOT NULL, model_version TEXT NOT NULL, reasons TEXT NOT NULL,
    response_hash TEXT NOT NULL, blocked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_retrains (
    incident_id TEXT PRIMARY KEY, rule TEXT NOT NULL, command TEXT NOT NULL, started_at TEXT NOT NULL,
    pid INTEGER, exit_code INTEGER, finished_at TEXT, log_path TEXT NOT NULL, status TEXT NOT NULL
);
"""


def now_iso() -> str:
    """Return the current UTC time in ISO 8601."""
    return datetime.now(UTC).isoformat()


@contextmanager
def monitor_db() -> Iterator[sqlite3.Connection]:
    """Open the project database with the monitor's tables; commit on success, roll back on error.

    Yields:
        The connection (rows as :class:`sqlite3.Row`).
    """
    connection = connect()
    connection.row_factory = sqlite3.Row
    try:
        connection.executescript(_SCHEMA)
        with connection:
            yield connection
    finally:
        connection.close()
