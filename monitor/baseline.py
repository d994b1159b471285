"""The reference window that every check compares with: stored requests between two times, or a log file.

A baseline is frozen when it is set: its described rows are copied to ``monitor/baselines/<id>.parquet``, so later
ingests into the same period do not move the reference. Setting a baseline makes it the active one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from monitor._errors import MonitorError
from monitor.config import MonitorConfig
from monitor.db import monitor_db, now_iso
from monitor.descriptors import Notify
from monitor.embedcache import EmbeddingCache, Progress
from monitor.ingest import StageTimer, describe_new
from monitor.logs import read_logs
from monitor.storage import load_requests, monitor_home, read_frame, write_frame


@dataclass(frozen=True)
class Baseline:
    """A stored reference window."""

    baseline_id: str
    source: str
    from_ts: str | None
    to_ts: str | None
    rows: int
    path: Path


def parse_time(text: str, option: str) -> pd.Timestamp:
    """Parse a ``--from``/``--to`` value (ISO 8601; naive times are UTC).

    Args:
        text: the value.
        option: the option's name, for the error message.

    Returns:
        A UTC timestamp.

    Raises:
        MonitorError: not a time.
    """
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise MonitorError(f"{option} {text!r} is not a time: use ISO 8601, e.g. 2026-01-01T00:00:00Z") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _store(frame: pd.DataFrame, source: str, start: pd.Timestamp | None, end: pd.Timestamp | None,
           min_rows: int) -> Baseline:
    if len(frame) < min_rows:
        raise MonitorError(f"the baseline {source} has {len(frame)} requests, fewer than drift.min_rows={min_rows}: "
                           "choose a longer period or ingest more logs first")
    baseline_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    path = monitor_home() / "baselines" / f"{baseline_id}.parquet"
    write_frame(path, frame)
    baseline = Baseline(baseline_id=baseline_id, source=source, from_ts=start.isoformat() if start is not None else
                        None, to_ts=end.isoformat() if end is not None else None, rows=len(frame), path=path)
    with monitor_db() as db:
        db.execute("UPDATE monitor_baselines SET active = 0")
        db.execute("INSERT INTO monitor_baselines VALUES (?,?,?,?,?,?,?,1)",
                   (baseline_id, now_iso(), source, baseline.from_ts, baseline.to_ts, len(frame), str(path)))
    return baseline


def baseline_from_range(start: pd.Timestamp, end: pd.Timestamp, config: MonitorConfig) -> Baseline:
    """Set the stored requests with ``start <= timestamp < end`` as the active baseline.

    Args:
        start: inclusive.
        end: exclusive.
        config: for ``drift.min_rows``.

    Returns:
        The baseline.

    Raises:
        MonitorError: an empty or too small period, or ``start >= end``.
    """
    if start >= end:
        raise MonitorError(f"--from {start.isoformat()} is not before --to {end.isoformat()}: swap them")
    frame = load_requests(start=start, end=end)
    return _store(frame, f"requests {start.isoformat()} .. {end.isoformat()}", start, end, config.drift.min_rows)


def baseline_from_file(path: Path, config: MonitorConfig, *, notify: Notify = lambda message: None,
                       progress: Progress = lambda done, total: None) -> Baseline:
    """Describe a log file's valid rows and set them as the active baseline (they are not added to the store).

    Args:
        path: a log file (see :mod:`monitor.logs`).
        config: the monitor config.
        notify: status lines.
        progress: embedding progress.

    Returns:
        The baseline.

    Raises:
        MonitorError: an unreadable or too small file.
    """
    parsed = read_logs(path)
    requests = parsed.requests.assign(ingest_id="baseline")
    described = describe_new(requests, config, cache=EmbeddingCache(config.embedder), timer=StageTimer(),
                             notify=notify, progress=progress)
    return _store(described, f"file {path}", None, None, config.drift.min_rows)


def active_baseline() -> Baseline:
    """Return the active baseline.

    Raises:
        MonitorError: none was set.
    """
    with monitor_db() as db:
        row = db.execute("SELECT * FROM monitor_baselines WHERE active = 1 ORDER BY created_at DESC LIMIT 1").fetchone()
    if row is None:
        raise MonitorError("no baseline is set: run evalkit monitor baseline --from T1 --to T2 (or --file LOGS)")
    return Baseline(baseline_id=row["baseline_id"], source=row["source"], from_ts=row["from_ts"], to_ts=row["to_ts"],
                    rows=row["rows"], path=Path(row["path"]))


def load_baseline(baseline: Baseline) -> pd.DataFrame:
    """Return the baseline's described rows."""
    if not baseline.path.is_file():
        raise MonitorError(f"baseline {baseline.baseline_id}'s file {baseline.path} is missing: set the baseline again")
    return read_frame([baseline.path])
