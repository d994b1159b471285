"""The monitor end to end, through the CLI as a user runs it: a reference period, then windows of the same
distribution alternating with a topic shift, a length shift, a latency spike, a rise in unsafe responses and an
injection campaign (``monitor.synthetic``, seeded). Each shift must raise its rule and nothing else; the
same-distribution windows must raise nothing (the false-alarm check)."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from evalkit.cli import app
from monitor.catalog import WINDOW_METRICS
from monitor.config import DEFAULT_CONFIG
from monitor.db import monitor_db
from monitor.synthetic import generate, write_jsonl
from tests.test_monitor_alerts import Recorder

START = pd.Timestamp("2026-01-01T00:00:00Z")
REFERENCE_ROWS, WINDOW_ROWS, INTERVAL_S = 1200, 300, 6.0  # 300 rows every 6 s: one 30-minute window each
SHIFTS = ["topic_shift", "length_shift", "latency_spike", "unsafe_rise", "injection_campaign"]
ORDER = [scenario for shift in SHIFTS for scenario in ("same", shift)] + ["same"]  # the last window stays open
EXPECTED = {"topic_shift": {"topic-shift", "response-text-shift"}, "length_shift": {"response-length-shift"},
            "latency_spike": {"latency-spike"}, "unsafe_rise": {"unsafe-responses"},
            "injection_campaign": {"injection-campaign"}}


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.stdout) if "--json" in args else result.stdout


def write_logs(folder: Path) -> tuple[Path, Path]:
    reference = generate("reference", REFERENCE_ROWS, start=START.isoformat(), seed=1, distinct_prompts=60)
    current_start = START + pd.Timedelta(seconds=REFERENCE_ROWS * INTERVAL_S)
    windows = [generate(scenario, WINDOW_ROWS, seed=10 + index, distinct_prompts=60, id_prefix=f"w{index}",
                        start=(current_start + pd.Timedelta(seconds=WINDOW_ROWS * INTERVAL_S * index)).isoformat())
               for index, scenario in enumerate(ORDER)]
    return write_jsonl(folder / "reference.jsonl", [reference]), write_jsonl(folder / "current.jsonl", windows)


def write_config(folder: Path, hook_url: str) -> Path:
    settings = yaml.safe_load(DEFAULT_CONFIG.read_text())
    marker = folder / "retrained.txt"
    settings["sinks"] = {
        "hook": {"type": "webhook", "url": hook_url, "backoff_s": 0.01},
        "dead-hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook", "retries": 1, "backoff_s": 0.01,
                      "timeout_s": 1},
        "audit": {"type": "file", "path": "alerts.jsonl"},
    }
    settings["retrain"] = {"command": f"{sys.executable} -c \"open(r'{marker}', 'a').write('x')\"", "wait": True}
    for rule in settings["rules"]:
        rule["sinks"] = ["audit"]
        if rule["name"] == "injection-campaign":
            rule["sinks"] = ["hook", "dead-hook", "audit"]
        if rule["name"] == "topic-shift":
            rule["action"] = "retrain"
    path = folder / "monitor.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Ingest, set the baseline and check once for the whole module (about half a minute on 2 CPUs)."""
    folder = tmp_path_factory.mktemp("monitor-scenarios")
    previous = os.environ.get("EVALKIT_HOME")
    os.environ["EVALKIT_HOME"] = str(folder / "home")
    Recorder.statuses, Recorder.bodies = [500], []  # the first delivery fails once and is retried
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = write_config(folder, f"http://127.0.0.1:{server.server_address[1]}/hook")
        reference, current = write_logs(folder)
        ingested = cli("monitor", "ingest", str(reference), str(current), "--config", str(config), "--json")
        end = START + pd.Timedelta(seconds=REFERENCE_ROWS * INTERVAL_S)
        cli("monitor", "baseline", "--from", START.isoformat(), "--to", end.isoformat(), "--config", str(config))
        checked = cli("monitor", "check", "--window", "30m", "--config", str(config), "--json")
        yield {"folder": folder, "config": config, "ingested": ingested, "checked": checked}
    finally:
        server.shutdown()
        server.server_close()
        if previous is None:
            os.environ.pop("EVALKIT_HOME", None)
        else:
            os.environ["EVALKIT_HOME"] = previous


def firing(window: dict[str, Any]) -> set[str]:
    return {alert["rule"] for alert in window["alerts"] if alert["status"] in ("firing", "suppressed")}


def test_ingest_stores_every_row(run: dict[str, Any]) -> None:
    assert [item["rows_added"] for item in run["ingested"]] == [REFERENCE_ROWS, WINDOW_ROWS * len(ORDER)]
    assert all(item["quarantined"] == 0 for item in run["ingested"])


def test_every_complete_window_is_checked_and_the_open_one_waits(run: dict[str, Any]) -> None:
    windows = run["checked"]["windows"]
    assert len(windows) == len(ORDER) - 1
    assert run["checked"]["open_windows"] == 1
    assert [window["rows"] for window in windows] == [WINDOW_ROWS] * (len(ORDER) - 1)


@pytest.mark.parametrize("shift", SHIFTS)
def test_each_shift_raises_its_rule_and_no_other(run: dict[str, Any], shift: str) -> None:
    window = run["checked"]["windows"][ORDER.index(shift)]
    assert firing(window) == EXPECTED[shift]


def test_same_distribution_windows_raise_nothing(run: dict[str, Any]) -> None:
    same = [window for window, scenario in zip(run["checked"]["windows"], ORDER, strict=False) if scenario == "same"]
    assert len(same) == 5
    assert [firing(window) for window in same] == [set()] * 5
    assert all(window["metrics"]["embedding_drift.prompt"] < 0.6 for window in same)


def test_summaries_are_stored_per_window(run: dict[str, Any]) -> None:
    with monitor_db() as db:
        windows = db.execute("SELECT window_id, status, report_path FROM monitor_windows").fetchall()
        metrics = {row[0]: row[1] for row in db.execute(
            "SELECT window_id, COUNT(*) FROM monitor_window_metrics GROUP BY window_id")}
        names = {row[0] for row in db.execute("SELECT DISTINCT metric FROM monitor_window_metrics")}
    assert len(windows) == len(ORDER) - 1 and all(row["status"] == "ok" for row in windows)
    assert set(WINDOW_METRICS) <= names
    assert len(set(metrics.values())) == 1


def test_evidently_html_reports_are_saved(run: dict[str, Any]) -> None:
    for window in run["checked"]["windows"]:
        folder = Path(window["report_dir"])
        assert "Value Drift for column latency_ms" in (folder / "descriptors.html").read_text()
        assert "Drift in embeddings 'prompt'" in (folder / "content.html").read_text()


def test_a_second_check_finds_nothing_new(run: dict[str, Any]) -> None:
    again = cli("monitor", "check", "--window", "30m", "--config", str(run["config"]), "--json")
    assert (again["windows"], again["already_checked"]) == ([], len(ORDER) - 1)


def test_alerts_reach_the_webhook_after_a_retry_and_a_dead_sink_is_recorded(run: dict[str, Any]) -> None:
    assert [body["rule"] for body in Recorder.bodies] == ["injection-campaign", "injection-campaign"]
    with monitor_db() as db:
        deliveries = {row["sink"]: (row["status"], row["attempts"]) for row in
                      db.execute("SELECT sink, status, attempts FROM monitor_deliveries WHERE sink LIKE '%hook'")}
    assert deliveries == {"hook": ("ok", 2), "dead-hook": ("failed", 2)}
    audit_file = run["folder"] / "home" / "monitor" / "alerts.jsonl"
    audit = [json.loads(line) for line in audit_file.read_text().splitlines()]
    assert {alert["rule"] for alert in audit} == set().union(*EXPECTED.values())


def test_the_retrain_command_runs_once_for_the_topic_shift_incident(run: dict[str, Any]) -> None:
    with monitor_db() as db:
        runs = db.execute("SELECT rule, status, exit_code FROM monitor_retrains").fetchall()
    assert [tuple(row) for row in runs] == [("topic-shift", "succeeded", 0)]
    assert (run["folder"] / "retrained.txt").read_text() == "x"


def test_the_report_covers_the_monitoring_steps(run: dict[str, Any]) -> None:
    markdown = cli("monitor", "report", "--config", str(run["config"]))
    for title in ("1. Baseline", "2. Performance", "4. Errors", "6. Alerts", "7. Feedback loop",
                  "8. Security events", "9. Drift", "10. Model versions", "12. Periodic review"):
        assert f"## {title}" in markdown
    assert "| injection-campaign | firing | critical | injection_rate |" in markdown
    page = run["folder"] / "report.html"
    cli("monitor", "report", "--format", "html", "--output", str(page), "--config", str(run["config"]))
    assert page.read_text().startswith("<!doctype html>")
