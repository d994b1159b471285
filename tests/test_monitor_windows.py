"""Window specs, time and row windows, baselines, and the errors a new user meets first."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from monitor._errors import MonitorError
from monitor.baseline import active_baseline, baseline_from_file, parse_time
from monitor.config import MonitorConfig
from monitor.windows import parse_duration, parse_window, split_windows


@pytest.mark.parametrize(("text", "duration", "rows"), [
    ("1h", timedelta(hours=1), None), ("30m", timedelta(minutes=30), None), ("1d", timedelta(days=1), None),
    ("5000", None, 5000), ("5000rows", None, 5000), ("250 rows", None, 250),
])
def test_window_specs(text: str, duration: timedelta | None, rows: int | None) -> None:
    spec = parse_window(text)
    assert (spec.duration, spec.rows) == (duration, rows)


@pytest.mark.parametrize("text", ["1y", "hourly", "1", "0h", "-5"])
def test_bad_window_specs_name_the_fix(text: str) -> None:
    with pytest.raises(MonitorError, match="--window"):
        parse_window(text)


def test_durations() -> None:
    assert parse_duration("0s") == timedelta(0)
    assert parse_duration("1.5h") == timedelta(minutes=90)


def frame(*stamps: str) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": pd.to_datetime(list(stamps), utc=True),
                         "request_id": [f"r{index}" for index in range(len(stamps))]})


def test_time_windows_align_to_the_clock_and_the_last_one_stays_open() -> None:
    requests = frame("2026-01-01T00:10Z", "2026-01-01T00:50Z", "2026-01-01T02:05Z", "2026-01-01T02:20Z")
    windows = split_windows(requests, parse_window("1h"), latest=requests["timestamp"].max())
    assert [(w.start.hour, list(w.rows), w.complete) for w in windows] == [(0, [0, 1], True), (2, [2, 3], False)]


def test_row_windows_are_full_or_open() -> None:
    requests = frame(*[f"2026-01-01T00:0{index}Z" for index in range(5)])
    windows = split_windows(requests, parse_window("2"), latest=requests["timestamp"].max())
    assert [(list(w.rows), w.complete) for w in windows] == [([0, 1], True), ([2, 3], True), ([4], False)]


def test_times_without_a_zone_are_utc() -> None:
    assert parse_time("2026-01-01T05:00", "--from") == pd.Timestamp("2026-01-01T05:00Z")
    with pytest.raises(MonitorError, match="--from 'soon' is not a time"):
        parse_time("soon", "--from")


def test_check_without_a_baseline_says_how_to_set_one(evalkit_home: Path) -> None:
    result = CliRunner().invoke(app, ["monitor", "check"])
    assert "no baseline is set: run evalkit monitor baseline --from T1 --to T2" in str(result.exception)


def test_a_baseline_needs_enough_rows(evalkit_home: Path) -> None:
    result = CliRunner().invoke(app, ["monitor", "baseline", "--from", "2026-01-01", "--to", "2026-01-02"])
    assert "has 0 requests, fewer than drift.min_rows=50" in str(result.exception)


def test_a_baseline_can_come_from_a_file(evalkit_home: Path, tmp_path: Path) -> None:
    rows = [{"timestamp": f"2026-01-01T00:00:{index:02d}Z", "request_id": f"r{index}", "model_version": "v1",
             "prompt": f"Is the kettle available in colour {index % 4}?", "response": "Yes, it is.",
             "latency_ms": 500, "prompt_tokens": 8, "completion_tokens": 3} for index in range(60)]
    path = tmp_path / "reference.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    baseline = baseline_from_file(path, MonitorConfig())
    assert active_baseline() == baseline
    assert (baseline.rows, baseline.from_ts, baseline.source) == (60, None, f"file {path}")
