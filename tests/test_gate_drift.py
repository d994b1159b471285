"""The ``drift`` check: the monitor's latest checked windows, read from the run store, decide it; no windows is an
error (fail closed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.errors import GateError
from evalkit.gate import GateResult, load_policy, load_run, run_gate
from monitor.db import monitor_db, now_iso
from tests.test_gate_synthetic import write_binary_run

POLICY = "name: drift\nchecks:\n  - {name: traffic, kind: drift, metric: drifted_columns_share, op: '<=', value: 0.3%s}\n"


def windows(*shares: float) -> None:
    """Store checked windows (oldest first) with the given drifted-column shares."""
    with monitor_db() as db:
        for index, share in enumerate(shares):
            window_id = f"w{index}"
            db.execute("INSERT INTO monitor_windows VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (window_id, "b1", "1h", f"2026-11-25T0{index}:00:00+00:00",
                        f"2026-11-25T0{index + 1}:00:00+00:00", 500, "ok", 0, None, now_iso()))
            db.execute("INSERT INTO monitor_window_metrics VALUES (?,?,?)", (window_id, "drifted_columns_share", share))


def gate(tmp_path: Path, extra: str = "") -> GateResult:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY % extra, encoding="utf-8")
    candidate = write_binary_run(tmp_path / "run", [1, 0] * 20)
    return run_gate(load_policy(policy), load_run(str(candidate)), None)


def test_the_latest_window_within_the_threshold_passes(tmp_path: Path, evalkit_home: Path) -> None:
    windows(0.6, 0.1)
    result = gate(tmp_path)
    assert result.verdict == "pass" and result.checks[0].evidence.candidate == pytest.approx(0.1)


def test_any_of_the_last_n_windows_beyond_the_threshold_fails(tmp_path: Path, evalkit_home: Path) -> None:
    windows(0.6, 0.1, 0.1)
    result = gate(tmp_path, ", windows: 2")
    assert result.verdict == "pass"
    result = gate(tmp_path, ", windows: 3")
    assert result.verdict == "fail" and "1 of the last 3" in result.checks[0].reason


def test_no_checked_window_is_an_error(tmp_path: Path, evalkit_home: Path) -> None:
    with pytest.raises(GateError, match="evalkit monitor check first"):
        gate(tmp_path)


def test_an_unknown_monitor_metric_is_a_policy_error(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("name: d\nchecks:\n  - {name: t, kind: drift, metric: vibes, value: 1}\n", encoding="utf-8")
    with pytest.raises(GateError, match="not a monitor window metric"):
        load_policy(policy)
