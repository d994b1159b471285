"""Windows over the request log: durations (``30m``, ``1h``, ``1d``), time windows aligned to the epoch, and
windows of N consecutive rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from monitor._errors import MonitorError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_ROWS = re.compile(r"^\s*(\d+)\s*(?:rows?)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse ``<number><unit>`` with unit s, m, h, d or w (``0s`` is allowed).

    Args:
        text: e.g. ``30m``, ``1h``, ``1.5d``.

    Returns:
        The duration.

    Raises:
        MonitorError: the text is not a duration.
    """
    match = _DURATION.match(str(text))
    if not match:
        raise MonitorError(f"duration {text!r} does not parse: write a number and a unit s, m, h, d or w, e.g. 1h")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


@dataclass(frozen=True)
class WindowSpec:
    """Either a fixed duration (tumbling windows aligned to the Unix epoch) or a fixed number of rows."""

    text: str
    duration: timedelta | None = None
    rows: int | None = None


def parse_window(text: str) -> WindowSpec:
    """Parse ``--window``: a duration (``1h``, ``1d``) or a row count (``5000`` or ``5000rows``).

    Args:
        text: the option's value.

    Returns:
        The window spec.

    Raises:
        MonitorError: neither a duration nor a positive row count.
    """
    rows = _ROWS.match(text)
    if rows:
        count = int(rows.group(1))
        if count < 2:
            raise MonitorError(f"--window {text!r} has fewer than 2 rows: give e.g. 1000 or 1h")
        return WindowSpec(text=f"{count}rows", rows=count)
    try:
        duration = parse_duration(text)
    except MonitorError:
        raise MonitorError(f"--window {text!r} is neither a duration (1h, 1d) nor a row count (5000)") from None
    if duration.total_seconds() <= 0:
        raise MonitorError(f"--window {text!r} is empty: give a positive duration such as 1h")
    return WindowSpec(text=text.strip(), duration=duration)


@dataclass(frozen=True)
class Window:
    """One window of the current data: its bounds and the positions of its rows in the frame it was cut from."""

    start: pd.Timestamp
    end: pd.Timestamp
    rows: pd.Index
    complete: bool


def split_windows(frame: pd.DataFrame, spec: WindowSpec, *, latest: pd.Timestamp) -> list[Window]:
    """Cut requests (sorted by timestamp) into windows.

    Args:
        frame: requests with a UTC ``timestamp`` column, sorted by it.
        spec: from :func:`parse_window`.
        latest: the newest timestamp in the whole store; a time window is complete once data reaches its end.

    Returns:
        Windows in time order; row windows are complete when full, time windows when ``latest >= end``.
    """
    if frame.empty:
        return []
    if spec.rows is not None:
        windows = []
        for first in range(0, len(frame), spec.rows):
            chunk = frame.iloc[first:first + spec.rows]
            windows.append(Window(start=chunk["timestamp"].iloc[0], end=chunk["timestamp"].iloc[-1],
                                  rows=chunk.index, complete=len(chunk) == spec.rows))
        return windows
    width = pd.Timedelta(spec.duration)
    epoch = pd.Timestamp(0, tz="UTC")
    starts = epoch + ((frame["timestamp"] - epoch) // width) * width
    return [Window(start=start, end=start + width, rows=group.index, complete=latest >= start + width)
            for start, group in frame.groupby(starts, sort=True)]
