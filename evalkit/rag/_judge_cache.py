"""Replies of a local judge, kept by (judge fingerprint, decoding settings, prompt hash) in
``$EVALKIT_HOME/cache/judge.sqlite``, so a re-run of the same metrics with the same judge asks it nothing again.

Only local judges are cached: their decoding is greedy, so a stored reply is the reply. An endpoint's weights
cannot be fingerprinted, so its replies are always asked afresh.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing

from evalkit.home import evalkit_home

_SCHEMA = "CREATE TABLE IF NOT EXISTS judge_replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)"


def reply_key(fingerprint: str, settings: str, prompt: str) -> str:
    """The cache key of one judge call."""
    return hashlib.sha256(f"{fingerprint}\x00{settings}\x00{prompt}".encode()).hexdigest()


def _connect() -> sqlite3.Connection:
    folder = evalkit_home() / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(folder / "judge.sqlite", timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(_SCHEMA)
    return connection


def cached_replies(keys: list[str]) -> dict[str, str]:
    """The stored replies among ``keys``, by key (keys never stored are absent)."""
    with closing(_connect()) as connection:
        found = {}
        for offset in range(0, len(keys), 500):  # SQLite caps the parameters of one statement
            part = keys[offset:offset + 500]
            marks = ",".join("?" * len(part))
            found.update(connection.execute(f"SELECT key, reply FROM judge_replies WHERE key IN ({marks})", part))
    return {str(key): str(reply) for key, reply in found.items()}


def store_replies(replies: dict[str, str]) -> None:
    """Keep replies by key (a later identical call reads them)."""
    with closing(_connect()) as connection, connection:
        connection.executemany("INSERT OR REPLACE INTO judge_replies VALUES (?, ?)", list(replies.items()))
