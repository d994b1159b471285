"""Where described requests live: Parquet partitions under ``$EVALKIT_HOME/monitor/requests/``, one per ingest.

Parquet rather than SQLite because every check reads a few columns of many rows (a window's descriptors and text
hashes) and the 100,000-row benchmark writes and scans them in well under a second; SQLite would store each
request as a row object and read all of its columns. The texts' embeddings are not stored per request but once per
distinct text in the :class:`~monitor.embedcache.EmbeddingCache`. Summaries, alerts and other small tables that the
dashboard reads live in the project's SQLite (:mod:`monitor.db`).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from evalkit.atomic import write_bytes_atomic
from evalkit.home import evalkit_home
from monitor.catalog import DESCRIPTOR_COLUMNS

_TEXT_COLUMNS = ("request_id", "model_version", "prompt", "response", "error", "retrieved_contexts", "metadata",
                 "prompt_hash", "response_hash", "response_pii_kinds", "ingest_id")
SCHEMA = pa.schema(
    [pa.field("timestamp", pa.timestamp("ns", tz="UTC"))]
    + [pa.field(name, pa.string()) for name in _TEXT_COLUMNS]
    + [pa.field(name, pa.int64()) for name in ("source_row",)]
    + [pa.field(name, pa.float64()) for name in (*DESCRIPTOR_COLUMNS, "feedback", "injection_pattern")]
)


def monitor_home() -> Path:
    """Return ``$EVALKIT_HOME/monitor`` (not created here)."""
    return evalkit_home() / "monitor"


def requests_dir() -> Path:
    """Return the folder of request partitions."""
    return monitor_home() / "requests"


def _partitions(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    """Write described requests to a Parquet file atomically, in the monitor's fixed schema.

    Args:
        path: the destination.
        frame: rows with every column of :data:`SCHEMA` (extra columns are dropped).
    """
    table = pa.Table.from_pandas(frame[SCHEMA.names], schema=SCHEMA, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    write_bytes_atomic(path, buffer.getvalue())


def write_partition(frame: pd.DataFrame, ingest_id: str) -> Path:
    """Store one ingest's described requests as ``requests/part-<ingest_id>.parquet``.

    Args:
        frame: rows with every column of :data:`SCHEMA`.
        ingest_id: the ingest's id.

    Returns:
        The partition's path.
    """
    path = requests_dir() / f"part-{ingest_id}.parquet"
    write_frame(path, frame)
    return path


def read_frame(paths: list[Path], *, columns: list[str] | None = None,
               start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Read described requests from Parquet files, optionally only ``start <= timestamp < end``.

    Args:
        paths: Parquet files in the monitor schema.
        columns: the columns to read (all when None).
        start: inclusive lower bound on ``timestamp``.
        end: exclusive upper bound.

    Returns:
        The rows sorted by ``timestamp`` and ``request_id``, with a fresh index.
    """
    names = columns if columns is None else list(dict.fromkeys(["timestamp", "request_id", *columns]))
    if not paths:
        return pd.DataFrame({field.name: pd.Series(dtype=field.type.to_pandas_dtype())
                             for field in SCHEMA if names is None or field.name in names})
    filters = [("timestamp", ">=", start)] if start is not None else []
    filters += [("timestamp", "<", end)] if end is not None else []
    table = pq.ParquetDataset([str(path) for path in paths], schema=SCHEMA, filters=filters or None).read(
        columns=names)
    frame = table.to_pandas()
    return frame.sort_values(["timestamp", "request_id"], kind="stable").reset_index(drop=True)


def load_requests(*, columns: list[str] | None = None, start: pd.Timestamp | None = None,
                  end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Read stored requests (see :func:`read_frame` for the arguments)."""
    return read_frame(_partitions(requests_dir()), columns=columns, start=start, end=end)


def stored_request_ids() -> set[str]:
    """Return the ids of every stored request (for idempotent ingest)."""
    paths = _partitions(requests_dir())
    if not paths:
        return set()
    table = pq.ParquetDataset([str(path) for path in paths], schema=SCHEMA).read(columns=["request_id"])
    return set(table.column("request_id").to_pylist())
