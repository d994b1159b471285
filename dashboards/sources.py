"""Where the dashboard reads from: read-only SQL on the run store's SQLite, and the stamps its caches are keyed on.

The dashboard never creates or migrates anything: on an empty store (no ``$EVALKIT_HOME`` yet, or a database
without the monitor's or the registry's tables) every query returns an empty frame with the expected columns, so
each page renders its empty state. Cached queries take a *stamp* argument, the modification times and sizes of
the files behind them, so a cache entry lives exactly as long as the data it was computed from.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from evalkit.home import evalkit_home

Stamp = tuple[tuple[str, int, int], ...]


def db_path() -> Path:
    """The run store's SQLite database (``$EVALKIT_HOME/evalkit.sqlite``)."""
    return evalkit_home() / "evalkit.sqlite"


def query(sql: str, params: Sequence[object] = (), *, columns: Sequence[str]) -> pd.DataFrame:
    """Run one read-only query on the store's database.

    Args:
        sql: a SELECT statement.
        params: its ``?`` parameters.
        columns: the columns of the result, used for the empty frame when there is nothing to read yet.

    Returns:
        The rows; an empty frame with ``columns`` when the database or a table it reads does not exist yet.
    """
    path = db_path()
    if not path.is_file():
        return pd.DataFrame(columns=list(columns))
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        return pd.read_sql_query(sql, connection, params=tuple(params))
    except (sqlite3.OperationalError, pd.errors.DatabaseError) as error:
        if "no such table" in str(error):
            return pd.DataFrame(columns=list(columns))
        raise
    finally:
        connection.close()


def stamp(*paths: Path) -> Stamp:
    """The modification time and size of each path that exists: it changes whenever one of them is written.

    A folder's stamp changes when a file is added, removed or renamed into it, which is how every writer of the
    store publishes (atomic renames).

    Args:
        paths: files or folders.

    Returns:
        ``(path, mtime_ns, size)`` of each existing path.
    """
    found = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        found.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(found)


def db_stamp() -> Stamp:
    """Stamp of the SQLite database, its write-ahead log included (commits land in the log first)."""
    path = db_path()
    return stamp(path, path.with_name(path.name + "-wal"))


def folder_stamp(*parts: str) -> Stamp:
    """Stamp of a folder under ``$EVALKIT_HOME`` (e.g. ``folder_stamp("gates")``)."""
    return stamp(evalkit_home().joinpath(*parts))


def file_stamp(path: str | Path) -> int:
    """A file's modification time in nanoseconds (0 when it is missing), for keying a cached read of it."""
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0
