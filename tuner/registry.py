"""The model registry in ``$EVALKIT_HOME``: versions with manifests, aliases (``candidate``, ``production``) and a
log of every alias move with the gate report behind it.

A version's folder (``registry/<version_id>/manifest.json``, ``model_card.md``) is written atomically before its
row is inserted, and an alias move and its log entry are one SQLite transaction, so a crash never leaves an alias
pointing at a half-written version.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from evalkit.atomic import write_text_atomic
from evalkit.errors import EvalkitError
from evalkit.home import evalkit_home
from evalkit.store import connect

Status = Literal["registered", "rejected"]
ALIASES = ("candidate", "production")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS registry_versions (
    version_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    spec TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    run_ids TEXT NOT NULL,
    path TEXT NOT NULL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS registry_aliases (
    alias TEXT PRIMARY KEY,
    version_id TEXT NOT NULL REFERENCES registry_versions(version_id),
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS registry_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    alias TEXT,
    from_version TEXT,
    to_version TEXT,
    gate_id TEXT,
    reason TEXT
);
"""


class RegistryError(EvalkitError):
    """An unknown version or alias, or a move the registry cannot make."""


@dataclass(frozen=True)
class Version:
    """A registered model version."""

    version_id: str
    created_at: str
    spec: str
    fingerprint: str
    status: str
    run_ids: tuple[str, ...]
    path: Path
    note: str | None

    @property
    def manifest(self) -> dict[str, Any]:
        """The version's manifest (base, adapter, data hashes, config, scorecards, gate verdict)."""
        return json.loads((self.path / "manifest.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Event:
    """One line of the registry's log."""

    event_id: int
    at: str
    action: str
    alias: str | None
    from_version: str | None
    to_version: str | None
    gate_id: str | None
    reason: str | None


def _db() -> sqlite3.Connection:
    connection = connect()
    connection.executescript(_SCHEMA)
    return connection


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def register_version(spec: str, fingerprint: str, *, manifest: dict[str, Any], run_ids: list[str],
                     model_card: str, status: Status = "registered", note: str | None = None) -> Version:
    """Add a version: write its manifest and model card, then index it.

    Args:
        spec: the checkpoint spec that loads it.
        fingerprint: its checkpoint fingerprint.
        manifest: what it is made of (JSON-serialisable).
        run_ids: runs that scored it.
        model_card: the Markdown model card.
        status: ``registered`` or ``rejected`` (a candidate that failed its gate).
        note: why it was rejected, if it was.

    Returns:
        The new :class:`Version`.
    """
    version_id = f"v{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    folder = evalkit_home() / "registry" / version_id
    folder.mkdir(parents=True, exist_ok=False)
    write_text_atomic(folder / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")
    write_text_atomic(folder / "model_card.md", model_card)
    created = _now()
    with _db() as connection:
        connection.execute("INSERT INTO registry_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (version_id, created, spec, fingerprint, status, json.dumps(run_ids), str(folder), note))
        connection.execute("INSERT INTO registry_events (at, action, to_version, reason) VALUES (?, ?, ?, ?)",
                           (created, "register" if status == "registered" else "reject", version_id, note))
    return get_version(version_id)


def _version_from(row: tuple) -> Version:
    version_id, created_at, spec, fingerprint, status, run_ids, path, note = row
    return Version(version_id, created_at, spec, fingerprint, status, tuple(json.loads(run_ids)), Path(path), note)


def list_versions() -> list[Version]:
    """All versions, newest first."""
    with _db() as connection:
        rows = connection.execute("SELECT * FROM registry_versions ORDER BY created_at DESC, version_id DESC")
        return [_version_from(row) for row in rows]


def aliases() -> dict[str, str]:
    """Alias to version id."""
    with _db() as connection:
        return dict(connection.execute("SELECT alias, version_id FROM registry_aliases"))


def get_version(reference: str) -> Version:
    """A version by id, unique id prefix, or alias.

    Raises:
        RegistryError: nothing matches, or the prefix is ambiguous.
    """
    target = aliases().get(reference, reference)
    matches = [version for version in list_versions() if version.version_id.startswith(target)]
    exact = [version for version in matches if version.version_id == target]
    if exact or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        known = ", ".join([*aliases(), *(version.version_id for version in list_versions()[:5])]) or "none yet"
        raise RegistryError(f"no registry version or alias {reference!r}: known: {known} (evalkit registry list)")
    raise RegistryError(f"{reference!r} matches {len(matches)} versions: give more of the version id")


def move_alias(alias: str, version_id: str, *, action: str, gate_id: str | None = None,
               reason: str | None = None) -> Event:
    """Point ``alias`` at ``version_id`` and log the move, in one transaction.

    Args:
        alias: ``candidate`` or ``production``.
        version_id: an existing, non-rejected version.
        action: ``promote``, ``force-promote`` or ``rollback``.
        gate_id: the gate run that allowed the move.
        reason: why (required for forced moves).

    Returns:
        The logged :class:`Event`.
    """
    if alias not in ALIASES:
        raise RegistryError(f"unknown alias {alias!r}: use one of {', '.join(ALIASES)}")
    version = get_version(version_id)
    if version.status == "rejected" and action != "rollback":
        raise RegistryError(f"version {version.version_id} was rejected by its gate ({version.note}): it cannot be "
                            f"promoted to {alias}")
    at = _now()
    with _db() as connection:
        row = connection.execute("SELECT version_id FROM registry_aliases WHERE alias = ?", (alias,)).fetchone()
        previous = row[0] if row else None
        connection.execute("INSERT OR REPLACE INTO registry_aliases VALUES (?, ?, ?)", (alias, version.version_id, at))
        cursor = connection.execute(
            "INSERT INTO registry_events (at, action, alias, from_version, to_version, gate_id, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (at, action, alias, previous, version.version_id, gate_id, reason))
        event_id = int(cursor.lastrowid or 0)
    return Event(event_id, at, action, alias, previous, version.version_id, gate_id, reason)


def history(alias: str | None = None) -> list[Event]:
    """The registry log, oldest first (only ``alias``'s moves when given)."""
    query = "SELECT * FROM registry_events" + (" WHERE alias = ?" if alias else "") + " ORDER BY event_id"
    with _db() as connection:
        return [Event(*row) for row in connection.execute(query, (alias,) if alias else ())]


def rollback(alias: str, *, reason: str | None = None) -> Event:
    """Move ``alias`` back to the version it pointed at before its last move.

    Raises:
        RegistryError: the alias has never moved, or its last move had no previous version.
    """
    moves = [event for event in history(alias) if event.action != "register"]
    if not moves or moves[-1].from_version is None:
        raise RegistryError(f"alias {alias!r} has no earlier version to roll back to (evalkit registry show {alias})")
    return move_alias(alias, moves[-1].from_version, action="rollback", reason=reason)


def set_status(version_id: str, status: Status, note: str | None) -> None:
    """Mark a version ``registered`` or ``rejected`` (with the reason) and log it."""
    with _db() as connection:
        connection.execute("UPDATE registry_versions SET status = ?, note = ? WHERE version_id = ?",
                           (status, note, version_id))
        connection.execute("INSERT INTO registry_events (at, action, to_version, reason) VALUES (?, ?, ?, ?)",
                           (_now(), "reject" if status == "rejected" else "register", version_id, note))
