"""Production logs in, validated requests out. JSONL, CSV and Parquet (``.gz`` JSONL and CSV too); one request per
row with the fields below. Every row either becomes a typed request or a quarantine record with its reasons.

Required: ``timestamp`` (ISO 8601, naive means UTC, or Unix epoch seconds or milliseconds), ``request_id``,
``model_version``, ``prompt`` (not empty), ``response`` (may be empty or missing when ``error`` is set),
``latency_ms`` (>= 0), ``prompt_tokens`` and ``completion_tokens`` (integers >= 0).
Optional: ``feedback`` (``up``/``down``, true/false, or a score in [0, 1]), ``error`` (text; empty means none),
``retrieved_contexts`` (a list of texts; in CSV a JSON array), ``metadata`` (an object; in CSV a JSON object).
Other columns are kept inside ``metadata``.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor._errors import MonitorError

REQUIRED = ("timestamp", "request_id", "model_version", "prompt", "response", "latency_ms", "prompt_tokens",
            "completion_tokens")
OPTIONAL = ("feedback", "error", "retrieved_contexts", "metadata")
_THUMBS = {"up": 1.0, "thumbs_up": 1.0, "👍": 1.0, "true": 1.0, "down": 0.0, "thumbs_down": 0.0, "👎": 0.0,
           "false": 0.0}


@dataclass
class ParsedLogs:
    """The outcome of reading one log file.

    Attributes:
        requests: valid rows, typed (see :func:`validate`), with ``source_row`` (1-based row or line number).
        quarantine: one dict per rejected row: ``source``, ``row``, ``reason`` and the raw ``record``.
    """

    requests: pd.DataFrame
    quarantine: list[dict[str, Any]] = field(default_factory=list)


def read_logs(path: Path) -> ParsedLogs:
    """Read and validate a log file.

    Args:
        path: ``.jsonl``/``.ndjson``/``.json`` (JSON lines), ``.csv`` or ``.parquet``, optionally ``.gz`` for the text
            formats.

    Returns:
        Valid requests and quarantined rows.

    Raises:
        MonitorError: the file cannot be read, its format is unknown, or a required column is absent from every row.
    """
    suffixes = [suffix.lower() for suffix in path.suffixes if suffix.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ""
    if not path.is_file():
        raise MonitorError(f"log file {path} does not exist: check the path")
    try:
        if kind in (".jsonl", ".ndjson", ".json"):
            frame, bad_lines = _read_json_lines(path)
        elif kind == ".csv":
            frame, bad_lines = pd.read_csv(path, dtype=str, keep_default_na=False), []
            frame.index = frame.index + 2  # line numbers: the header is line 1
        elif kind == ".parquet":
            frame, bad_lines = pd.read_parquet(path), []
            frame.index = frame.index + 1
        else:
            raise MonitorError(f"log file {path} is not .jsonl, .csv or .parquet: convert it to one of those")
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise MonitorError(f"log file {path} cannot be read ({type(error).__name__}: {error}): check that it is "
                           f"valid {kind.lstrip('.')}") from None
    missing = [column for column in REQUIRED if column not in frame.columns and column != "response"]
    if missing and len(frame):
        raise MonitorError(f"log file {path} has no {', '.join(missing)} column(s): every row needs "
                           f"{', '.join(REQUIRED)}")
    requests, quarantined = validate(frame)
    quarantine = bad_lines + [{"row": int(row), "reason": reason, "record": record}
                              for row, reason, record in quarantined]
    return ParsedLogs(requests=requests, quarantine=[{"source": str(path), **item} for item in quarantine])


def _read_json_lines(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    records, rows, bad = [], [], []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                bad.append({"row": number, "reason": f"not valid JSON ({error.msg})", "record": line.rstrip("\n")})
                continue
            if not isinstance(record, dict):
                bad.append({"row": number, "reason": "not a JSON object", "record": record})
                continue
            records.append(record)
            rows.append(number)
    frame = pd.DataFrame.from_records(records, index=rows) if records else pd.DataFrame(columns=list(REQUIRED))
    return frame, bad


def validate(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[int, str, dict[str, Any]]]]:
    """Type and check every row.

    Args:
        frame: raw rows (any dtypes), indexed by source row number.

    Returns:
        ``(requests, quarantined)``: typed valid rows (``timestamp`` UTC, numbers as float64/int64, ``feedback``
        float with NaN when absent, ``error``/``retrieved_contexts``/``metadata`` as text or None, ``source_row``)
        and ``(row, reasons, raw record)`` for the rest.
    """
    frame = frame.copy()
    for column in (*REQUIRED, *OPTIONAL):
        if column not in frame.columns:
            frame[column] = None
    reasons = pd.Series([[] for _ in range(len(frame))], index=frame.index, dtype=object)

    def reject(mask: pd.Series, reason: str) -> None:
        for row in mask[mask].index:
            reasons[row].append(reason)

    typed = pd.DataFrame(index=frame.index)
    typed["timestamp"] = _timestamps(frame["timestamp"])
    reject(typed["timestamp"].isna(), "timestamp is not ISO 8601 or epoch seconds")
    for column in ("request_id", "model_version", "prompt"):
        typed[column] = frame[column].map(_identifier if column != "prompt" else _text)
        reject(typed[column].isna() | (typed[column] == ""), f"{column} is missing or empty")
    typed["error"] = frame["error"].map(_text).replace("", None)
    typed["response"] = frame["response"].map(_text)
    reject(typed["response"].isna() & typed["error"].isna(), "response is missing (allowed only with an error)")
    typed["response"] = typed["response"].fillna("")
    typed["latency_ms"] = pd.to_numeric(frame["latency_ms"].map(_number), errors="coerce")
    reject(~(typed["latency_ms"] >= 0), "latency_ms is not a number >= 0")
    for column in ("prompt_tokens", "completion_tokens"):
        values = pd.to_numeric(frame[column].map(_number), errors="coerce")
        reject(~((values >= 0) & (values == values.round())), f"{column} is not an integer >= 0")
        typed[column] = values.fillna(0).astype("int64")
    typed["feedback"] = frame["feedback"].map(_feedback)
    reject(typed["feedback"] == -1.0, "feedback is not up/down, true/false or a score in [0, 1]")
    typed["retrieved_contexts"] = frame["retrieved_contexts"].map(_contexts)
    reject(typed["retrieved_contexts"] == "!", "retrieved_contexts is not a list of texts")
    typed["metadata"] = _metadata(frame)
    reject(typed["metadata"] == "!", "metadata is not a JSON object")
    reject(typed["request_id"].duplicated(keep="first") & typed["request_id"].notna(),
           "request_id repeated within the file (the first row was kept)")
    typed["source_row"] = typed.index.astype("int64")
    bad = reasons.map(bool).astype(bool)
    quarantined = [(int(row), "; ".join(reasons[row]), _jsonable(frame.loc[row].to_dict())) for row in
                   bad[bad].index]
    return typed[~bad].reset_index(drop=True), quarantined


def _timestamps(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values.map(_number), errors="coerce")
    texts = values.where(numbers.isna()).map(lambda value: value if isinstance(value, str) else None)
    parsed = pd.to_datetime(texts, format="ISO8601", utc=True, errors="coerce").astype("datetime64[ns, UTC]")
    given = numbers.notna()
    if given.any():
        # Only rows that hold a number go through the epoch conversion: pandas' unit conversion of NaN-filled
        # float columns raised "overflow encountered in multiply" on some runs.
        epoch_seconds = numbers[given].where(numbers[given] < 1e11, numbers[given] / 1000.0)
        parsed[given] = pd.to_datetime(epoch_seconds, unit="s", utc=True, errors="coerce")
    return parsed


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _identifier(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return str(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or _missing(value):
        return None
    if isinstance(value, int | float | np.number):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _feedback(value: Any) -> float:
    """Feedback as a score in [0, 1]; NaN when absent; -1 marks an invalid value."""
    if _missing(value) or value == "":
        return math.nan
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in _THUMBS:
        return _THUMBS[value.strip().lower()]
    score = _number(value)
    return score if score is not None and 0.0 <= score <= 1.0 else -1.0


def _contexts(value: Any) -> str | None:
    """The contexts as a JSON array text; None when absent; ``"!"`` marks an invalid value."""
    if _missing(value) or (isinstance(value, str) and value == ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return "!"
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return json.dumps(value, ensure_ascii=False)
    return "!"


def _metadata(frame: pd.DataFrame) -> pd.Series:
    """``metadata`` merged with the columns that are not request fields, as JSON text (``"!"``: invalid)."""
    extra = [column for column in frame.columns if column not in (*REQUIRED, *OPTIONAL)]
    out = []
    for row in frame[["metadata", *extra]].itertuples(index=False):
        value = row[0]
        if isinstance(value, str) and value:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = "!"
        if _missing(value) or value == "":
            value = {}
        if not isinstance(value, dict):
            out.append("!")
            continue
        merged = {**value, **{name: item for name, item in zip(extra, row[1:], strict=True)
                               if not _missing(item) and item != ""}}
        out.append(json.dumps(_jsonable(merged), ensure_ascii=False) if merged else None)
    return pd.Series(out, index=frame.index, dtype=object)


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    cleaned = {key: None if _missing(value) else value for key, value in record.items()}
    return json.loads(json.dumps(cleaned, default=lambda value: value.tolist() if isinstance(value, np.ndarray)
                                 else str(value)))
