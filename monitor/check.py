"""``evalkit monitor check``: cut the requests after the baseline into windows, compare each complete window that
was not checked yet with the baseline (Evidently), store its summary, apply the alert rules, deliver alerts and
start retrain commands."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from monitor.baseline import Baseline, active_baseline, load_baseline
from monitor.config import MonitorConfig
from monitor.db import monitor_db, now_iso
from monitor.descriptors import Notify
from monitor.drift import PreparedReference, add_flags, baseline_levels, compare_window, prepare_reference
from monitor.embedcache import EmbeddingCache
from monitor.retrain import RetrainRun, trigger
from monitor.rules import AlertEvent, evaluate
from monitor.sinks import Delivery, deliver
from monitor.storage import load_requests, monitor_home
from monitor.windows import Window, WindowSpec, split_windows

Advance = Callable[[int, int], None]


@dataclass
class CheckedWindow:
    """One window's outcome."""

    window_id: str
    start: str
    end: str
    rows: int
    status: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    failed_tests: list[str] = field(default_factory=list)
    report_dir: str | None = None
    alerts: list[AlertEvent] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    retrains: list[RetrainRun] = field(default_factory=list)


@dataclass
class CheckResult:
    """What a check did: the windows it checked and how many it left for later."""

    baseline_id: str
    window_spec: str
    windows: list[CheckedWindow]
    already_checked: int
    open_windows: int


def _window_id(baseline: Baseline, spec: WindowSpec, window: Window, first_request: str) -> str:
    key = f"{baseline.baseline_id}|{spec.text}|{window.start.isoformat()}|{window.end.isoformat()}|{first_request}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _current(baseline: Baseline) -> pd.DataFrame:
    start = pd.Timestamp(baseline.to_ts) if baseline.to_ts else None
    return load_requests(start=start)


def _store_window(checked: CheckedWindow, baseline: Baseline, spec: WindowSpec, config: MonitorConfig) -> None:
    with monitor_db() as db:
        db.execute("INSERT INTO monitor_windows VALUES (?,?,?,?,?,?,?,?,?,?)",
                   (checked.window_id, baseline.baseline_id, spec.text, checked.start, checked.end, checked.rows,
                    checked.status, len(checked.failed_tests) if checked.status == "ok" else None,
                    checked.report_dir, now_iso()))
        db.executemany("INSERT INTO monitor_window_metrics VALUES (?,?,?)",
                       [(checked.window_id, name, value) for name, value in checked.metrics.items()])
        if checked.status == "ok":
            checked.alerts = evaluate(db, config, baseline.baseline_id, spec.text)


def _notify_and_act(checked: CheckedWindow, config: MonitorConfig) -> None:
    for event in checked.alerts:
        if event.kind == "suppressed" or (event.kind == "resolved" and not event.rule.send_resolved):
            continue
        deliveries = [deliver(event, name, config.sinks[name]) for name in event.rule.sinks]
        checked.deliveries.extend(deliveries)
        with monitor_db() as db:
            db.executemany("INSERT INTO monitor_deliveries VALUES (?,?,?,?,?,?,?)",
                           [(event.alert_id, item.sink, item.sink_type, item.status, item.attempts, item.error,
                             now_iso()) for item in deliveries])
            if event.kind == "firing" and event.rule.action == "retrain" and config.retrain is not None:
                run = trigger(db, event, config.retrain)
                if run is not None:
                    checked.retrains.append(run)


def check_window(window: Window, current: pd.DataFrame, reference: PreparedReference, *, baseline: Baseline,
                 spec: WindowSpec, config: MonitorConfig, cache: EmbeddingCache) -> CheckedWindow:
    """Compare one window with the reference, store it, and act on the alerts it raises.

    Args:
        window: the window.
        current: the requests it was cut from (flagged).
        reference: the prepared baseline.
        baseline: the baseline.
        spec: the window spec.
        config: the monitor config.
        cache: the embedding cache.

    Returns:
        The window's outcome (``status`` is ``too few rows`` below ``drift.min_rows``).
    """
    rows = current.loc[window.rows]
    window_id = _window_id(baseline, spec, window, str(rows["request_id"].iloc[0]))
    checked = CheckedWindow(window_id=window_id, start=window.start.isoformat(), end=window.end.isoformat(),
                            rows=len(rows), status="ok" if len(rows) >= config.drift.min_rows else "too few rows")
    if checked.status == "ok":
        report_dir = monitor_home() / "reports" / window_id
        drift = compare_window(rows, reference, settings=config.drift, cache=cache, report_dir=report_dir)
        checked.metrics, checked.failed_tests, checked.report_dir = drift.metrics, drift.failed_tests, str(report_dir)
    _store_window(checked, baseline, spec, config)
    _notify_and_act(checked, config)
    return checked


def check(config: MonitorConfig, spec: WindowSpec, *, notify: Notify = lambda message: None,
          advance: Advance = lambda done, total: None) -> CheckResult:
    """Check every complete window after the active baseline that has not been checked with this spec.

    Args:
        config: the monitor config.
        spec: the window spec.
        notify: status lines.
        advance: ``(done, total)`` windows.

    Returns:
        The checked windows, in time order.

    Raises:
        MonitorError: no baseline is set.
    """
    baseline = active_baseline()
    notify(f"loading baseline {baseline.baseline_id} and current requests")
    cache = EmbeddingCache(config.embedder)
    reference = prepare_reference(add_flags(load_baseline(baseline), config.thresholds), config.drift, cache)
    current = add_flags(_current(baseline), config.thresholds)
    levels = baseline_levels(reference.frame)
    with monitor_db() as db:
        db.executemany("INSERT OR REPLACE INTO monitor_baseline_metrics VALUES (?,?,?)",
                       [(baseline.baseline_id, name, value) for name, value in levels.items()])
    latest = current["timestamp"].max() if len(current) else None
    windows = split_windows(current, spec, latest=latest)
    with monitor_db() as db:
        seen = {row[0] for row in db.execute("SELECT window_id FROM monitor_windows WHERE baseline_id = ? AND "
                                             "window_spec = ?", (baseline.baseline_id, spec.text))}
    todo = [window for window in windows if window.complete and _window_id(
        baseline, spec, window, str(current.loc[window.rows[0], "request_id"])) not in seen]
    checked = []
    for done, window in enumerate(todo, start=1):
        notify(f"window {window.start:%Y-%m-%d %H:%M} ({len(window.rows)} rows)")
        checked.append(check_window(window, current, reference, baseline=baseline, spec=spec, config=config,
                                    cache=cache))
        advance(done, len(todo))
    return CheckResult(baseline_id=baseline.baseline_id, window_spec=spec.text, windows=checked,
                       already_checked=sum(1 for window in windows if window.complete) - len(todo),
                       open_windows=sum(1 for window in windows if not window.complete))
