"""The run store: one folder per run under ``$EVALKIT_HOME/runs`` and a SQLite index (WAL) of all runs.

A run is indexed as ``running`` when scoring starts and marked ``finished`` only after its scorecard and
reports are in place, so a run killed halfway never shows as finished.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from evalkit.errors import RunNotFoundError
from evalkit.home import evalkit_home
from evalkit.scorecard import Scorecard

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    spec TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    suite TEXT,
    path TEXT NOT NULL,
    finished_at TEXT
);
"""


@dataclass(frozen=True)
class RunRecord:
    """One row of the run index."""

    run_id: str
    created_at: str
    status: str
    spec: str
    fingerprint: str
    suite: str | None
    path: Path


def connect() -> sqlite3.Connection:
    """Open the run index (creating it in WAL mode on first use)."""
    home = evalkit_home()
    home.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(home / "evalkit.sqlite", timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(_SCHEMA)
    return connection


def new_run_id(spec: str) -> str:
    """Return a sortable, unique run id: ``YYYYMMDD-HHMMSS-<model name>-<random hex>``."""
    if spec.startswith("openai:"):
        source = spec.split("@", 1)[0].removeprefix("openai:")
    else:
        source = Path(spec.rstrip("/")).name
    name = "".join(ch if ch.isalnum() else "-" for ch in source)[:24].strip("-") or "model"
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{name}-{secrets.token_hex(3)}"


def start_run(run_id: str, spec: str, fingerprint: str, suite: str | None) -> Path:
    """Index a run as ``running`` and create its folder.

    Args:
        run_id: from :func:`new_run_id`.
        spec: the checkpoint spec.
        fingerprint: the checkpoint fingerprint.
        suite: the suite name, if any.

    Returns:
        The run folder.
    """
    folder = evalkit_home() / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=False)
    with connect() as connection:
        connection.execute(
            "INSERT INTO runs (run_id, created_at, status, spec, fingerprint, suite, path) VALUES (?,?,?,?,?,?,?)",
            (run_id, datetime.now(UTC).isoformat(), "running", spec, fingerprint, suite, str(folder)),
        )
    return folder


def finish_run(run_id: str, status: str = "finished") -> None:
    """Mark a run ``finished`` (or ``failed``)."""
    with connect() as connection:
        connection.execute("UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                           (status, datetime.now(UTC).isoformat(), run_id))


def list_runs(*, include_unfinished: bool = False) -> list[RunRecord]:
    """Return indexed runs, newest first.

    Args:
        include_unfinished: also list ``running`` and ``failed`` runs.

    Returns:
        The run records.
    """
    if not (evalkit_home() / "evalkit.sqlite").is_file():
        return []
    query = "SELECT run_id, created_at, status, spec, fingerprint, suite, path FROM runs"
    if not include_unfinished:
        query += " WHERE status = 'finished'"
    with connect() as connection:
        rows = connection.execute(query + " ORDER BY created_at DESC, run_id DESC").fetchall()
    return [RunRecord(*row[:6], path=Path(row[6])) for row in rows]


def get_run(run_ref: str) -> RunRecord:
    """Find a finished run by id, unique id prefix, or ``latest``.

    Args:
        run_ref: a run id, a prefix of one, or ``latest``.

    Returns:
        The record.

    Raises:
        RunNotFoundError: no finished run matches, or a prefix matches several.
    """
    runs = list_runs()
    if run_ref == "latest" and runs:
        return runs[0]
    matches = [run for run in runs if run.run_id == run_ref] or [run for run in runs if run.run_id.startswith(run_ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunNotFoundError(f"no finished run {run_ref!r} in {evalkit_home()}: see `evalkit runs list`")
    raise RunNotFoundError(f"run prefix {run_ref!r} matches {len(matches)} runs: give more of the id")


def load_scorecard(run_ref: str) -> Scorecard:
    """Load the scorecard of a finished run (see :func:`get_run` for ``run_ref``)."""
    record = get_run(run_ref)
    path = record.path / "scorecard.json"
    try:
        return Scorecard.load(path)
    except (OSError, ValueError) as error:
        raise RunNotFoundError(f"run {record.run_id}: {path} is missing or unreadable ({type(error).__name__}); "
                               "score the checkpoint again") from error
