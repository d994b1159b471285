"""``evalkit monitor ingest``: read a log file, quarantine bad rows, skip requests already stored, describe the new
ones and store them; responses that fail the screen go on the block list."""

from __future__ import annotations

import fcntl
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from evalkit.atomic import write_text_atomic
from monitor.config import MonitorConfig
from monitor.db import monitor_db, now_iso
from monitor.descriptors import Notify, describe
from monitor.embedcache import EmbeddingCache, Progress
from monitor.logs import read_logs
from monitor.screen import block_list
from monitor.storage import monitor_home, stored_request_ids, write_partition


@dataclass
class IngestResult:
    """What one ingest did.

    Attributes:
        ingest_id: its id (also the partition's name).
        source: the log file.
        rows_read: rows in the file (valid or not).
        rows_added: new requests stored.
        duplicates: valid rows whose request id was already stored (skipped: ingest is idempotent).
        quarantined: rows rejected by validation, written with reasons to ``quarantine_path``.
        quarantine_path: the quarantine file, or None when no row was rejected.
        blocked: new requests put on the block list.
        stage_seconds: wall time per stage (read, embed, describe, store).
    """

    ingest_id: str
    source: str
    rows_read: int
    rows_added: int
    duplicates: int
    quarantined: int
    quarantine_path: str | None
    blocked: int
    stage_seconds: dict[str, float] = field(default_factory=dict)


class StageTimer:
    """Wall time per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block under ``name`` (times add up when a name repeats)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


@contextmanager
def ingest_lock() -> Iterator[None]:
    """Serialise ingests: the check for stored ids and the write of the new partition happen under one lock."""
    home = monitor_home()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".ingest.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_ingest_id() -> str:
    """Return a sortable unique id: ``YYYYMMDD-HHMMSS-<hex>``."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def describe_new(requests: pd.DataFrame, config: MonitorConfig, *, cache: EmbeddingCache, timer: StageTimer,
                 notify: Notify, progress: Progress) -> pd.DataFrame:
    """Embed the distinct new texts (timed as ``embed``), then add every descriptor (timed as ``describe``).

    Args:
        requests: validated requests.
        config: the monitor config (system prompts, embedder).
        cache: the embedding cache.
        timer: receives the stage times.
        notify: status lines.
        progress: embedding progress.

    Returns:
        The described requests.
    """
    with timer.stage("embed"):
        notify("embedding new texts")
        cache.ensure(pd.concat([requests["prompt"], requests["response"]]).drop_duplicates().tolist(),
                     progress=progress)
    with timer.stage("describe"):
        return describe(requests, cache=cache, system_prompts=config.system_prompts, notify=notify,
                        progress=progress)


def _write_quarantine(items: list[dict[str, object]], source: Path, ingest_id: str) -> str | None:
    if not items:
        return None
    path = monitor_home() / "quarantine" / f"{source.name}-{ingest_id}.jsonl"
    write_text_atomic(path, "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items))
    return str(path)


def ingest(path: Path, config: MonitorConfig, *, notify: Notify = lambda message: None,
           progress: Progress = lambda done, total: None) -> IngestResult:
    """Ingest one log file into the monitor store.

    Args:
        path: a JSONL, CSV or Parquet log (see :mod:`monitor.logs`).
        config: the monitor config.
        notify: status lines.
        progress: embedding progress.

    Returns:
        The counts, the quarantine file and the stage times.

    Raises:
        MonitorError: the file cannot be read or lacks a required column.
    """
    timer, ingest_id = StageTimer(), new_ingest_id()
    with timer.stage("read"):
        notify(f"reading {path.name}")
        parsed = read_logs(path)
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    cache = EmbeddingCache(config.embedder)
    with ingest_lock():
        known = stored_request_ids()
        fresh = parsed.requests[~parsed.requests["request_id"].isin(known)].reset_index(drop=True)
        fresh.insert(len(fresh.columns), "ingest_id", ingest_id)
        blocked = 0
        if len(fresh):
            described = describe_new(fresh, config, cache=cache, timer=timer, notify=notify, progress=progress)
            with timer.stage("store"):
                notify("storing")
                write_partition(described, ingest_id)
                blocked = block_list(described, config)
    result = IngestResult(ingest_id=ingest_id, source=str(path), rows_read=len(parsed.requests) +
                          len(parsed.quarantine), rows_added=len(fresh),
                          duplicates=len(parsed.requests) - len(fresh), quarantined=len(parsed.quarantine),
                          quarantine_path=_write_quarantine(parsed.quarantine, path, ingest_id), blocked=blocked,
                          stage_seconds=timer.seconds)
    with monitor_db() as db:
        db.execute("INSERT INTO monitor_ingests VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   (ingest_id, now_iso(), str(path.resolve()), digest, result.rows_read, result.rows_added,
                    result.duplicates, result.quarantined, result.quarantine_path, blocked,
                    sum(timer.seconds.values())))
    return result
