"""Read and write training data: JSONL, CSV, Parquet, or a dataset saved with ``datasets.save_to_disk``.

Rows keep their position in the source (the line of a JSONL file, the 1-based row of a table), so every finding
can name where it is. A JSONL line that is not a JSON object is kept as an unreadable row, reported by the schema
check with its line number, instead of stopping the read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.atomic import write_text_atomic
from tuner.errors import DataError

FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


@dataclass(frozen=True)
class Row:
    """One record of a data file.

    Attributes:
        position: the JSONL line number, or the 1-based row number of a table.
        record: the parsed record; ``None`` when the line is not a JSON object.
        problem: why ``record`` is ``None``.
    """

    position: int
    record: dict[str, Any] | None
    problem: str | None = None


@dataclass(frozen=True)
class DataFile:
    """A read data file: its rows, how positions are named, and a content hash.

    Attributes:
        path: the file or dataset folder.
        rows: every record, in order.
        unit: ``line`` (JSONL) or ``row`` (CSV, Parquet, saved datasets).
        sha256: sha256 over the file bytes (a dataset folder: over its files' names and bytes).
    """

    path: Path
    rows: list[Row]
    unit: str
    sha256: str


def read_data(path: Path) -> DataFile:
    """Read a data file into rows.

    Args:
        path: a ``.jsonl``/``.json`` (one object per line), ``.csv`` or ``.parquet`` file, or a folder written by
            ``datasets.Dataset.save_to_disk`` (a ``DatasetDict`` folder: its ``train`` split).

    Returns:
        The :class:`DataFile`.

    Raises:
        DataError: the path is missing or is not one of those formats.
    """
    if not path.exists():
        raise DataError(f"data {path} does not exist: check the path")
    if path.is_dir():
        return DataFile(path, _read_saved_dataset(path), "row", _folder_sha256(path))
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise DataError(f"data {path} is not .jsonl, .csv, .parquet or a saved dataset folder: convert it to one")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if suffix in (".jsonl", ".json"):
        return DataFile(path, _read_jsonl(path), "line", digest)
    return DataFile(path, _read_table(path, suffix), "row", digest)


def _read_jsonl(path: Path) -> list[Row]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"data {path} is not UTF-8 text: re-encode it as UTF-8") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            rows.append(Row(number, None, f"not valid JSON ({error.msg})"))
            continue
        if isinstance(record, dict):
            rows.append(Row(number, record))
        else:
            rows.append(Row(number, None, f"a JSON {type(record).__name__}, not an object"))
    return rows


def _read_table(path: Path, suffix: str) -> list[Row]:
    import pyarrow as pa
    from pyarrow import csv, parquet

    try:
        table = csv.read_csv(path) if suffix == ".csv" else parquet.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"data {path} could not be read as {suffix[1:]} ({str(error).splitlines()[0]}): fix the "
                        "file") from None
    return [Row(index, record) for index, record in enumerate(table.to_pylist(), start=1)]


def _read_saved_dataset(path: Path) -> list[Row]:
    from datasets import DatasetDict, load_from_disk

    try:
        loaded = load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as error:
        raise DataError(f"{path} is a folder but not a dataset saved with datasets' save_to_disk ({error}): pass a "
                        "data file or a saved dataset") from None
    if isinstance(loaded, DatasetDict):
        if "train" not in loaded:
            raise DataError(f"saved dataset {path} has splits {', '.join(loaded)} but no train split: save the "
                            "split to check on its own")
        loaded = loaded["train"]
    return [Row(index, record) for index, record in enumerate(loaded.to_list(), start=1)]


def _folder_sha256(folder: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(item for item in folder.rglob("*") if item.is_file()):
        digest.update(str(file.relative_to(folder)).encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def record_strings(value: Any) -> Iterator[str]:
    """Every string inside a record (nested dicts and lists included), in order."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from record_strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from record_strings(inner)


def map_strings(value: Any, function: Callable[[str], str]) -> Any:
    """A copy of a record with ``function`` applied to every string inside it (structure kept)."""
    if isinstance(value, str):
        return function(value)
    if isinstance(value, dict):
        return {key: map_strings(inner, function) for key, inner in value.items()}
    if isinstance(value, list):
        return [map_strings(inner, function) for inner in value]
    return value


def write_records(path: Path, records: list[dict[str, Any]]) -> str:
    """Write records atomically, in the format the suffix names (``.jsonl``, ``.csv`` or ``.parquet``).

    Args:
        path: the destination file.
        records: the records.

    Returns:
        The sha256 of the written file.

    Raises:
        DataError: the suffix is not one of those.
    """
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
        write_text_atomic(path, text)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    if suffix not in (".csv", ".parquet"):
        raise DataError(f"cannot write {path}: name a .jsonl, .csv or .parquet file")
    import pyarrow as pa
    from pyarrow import csv, parquet

    table = pa.Table.from_pylist(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        if suffix == ".csv":
            csv.write_csv(table, temporary)
        else:
            parquet.write_table(table, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return hashlib.sha256(path.read_bytes()).hexdigest()

