"""Alert rules (for, cooldown, resolution, baseline-relative), sinks with retries, and retrain triggers."""

from __future__ import annotations

import json
import socketserver
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from monitor._errors import MonitorError
from monitor.config import MonitorConfig, load_config
from monitor.db import monitor_db
from monitor.retrain import trigger
from monitor.rules import AlertEvent, evaluate
from monitor.sinks import deliver

BASELINE, SPEC = "b1", "100rows"


def config(**rule: Any) -> MonitorConfig:
    return MonitorConfig.model_validate({"rules": [{"name": "r", "metric": "error_rate", "op": ">",
                                                    "threshold": 0.1, **rule}]})


def add_window(index: int, metrics: dict[str, float]) -> None:
    """Store window ``index`` (one hour each, from 2026-01-01) with these metrics, as check does."""
    start, end = f"2026-01-01T{index:02d}:00:00+00:00", f"2026-01-01T{index:02d}:59:59+00:00"
    with monitor_db() as db:
        db.execute("INSERT INTO monitor_windows VALUES (?,?,?,?,?,?,?,?,?,?)",
                   (f"w{index}", BASELINE, SPEC, start, end, 100, "ok", 0, None, start))
        db.executemany("INSERT INTO monitor_window_metrics VALUES (?,?,?)",
                       [(f"w{index}", name, value) for name, value in metrics.items()])


def run_rules(settings: MonitorConfig, values: list[float], metric: str = "error_rate") -> list[list[str]]:
    """Add one window per value and return the alert kinds raised on each."""
    kinds = []
    for index, value in enumerate(values):
        add_window(index, {metric: value})
        with monitor_db() as db:
            kinds.append([event.kind for event in evaluate(db, settings, BASELINE, SPEC)])
    return kinds


def test_a_rule_fires_after_for_consecutive_windows(evalkit_home: Path) -> None:
    assert run_rules(config(**{"for": 2}), [0.2, 0.0, 0.2, 0.2, 0.2]) == [[], [], [], ["firing"], []]


def test_an_incident_fires_once_and_resolves_when_the_condition_stops(evalkit_home: Path) -> None:
    assert run_rules(config(), [0.2, 0.3, 0.0, 0.0]) == [["firing"], [], ["resolved"], []]
    with monitor_db() as db:
        incident = db.execute("SELECT status, opened_window, resolved_window FROM monitor_incidents").fetchone()
    assert tuple(incident) == ("resolved", "w0", "w2")


def test_cooldown_suppresses_a_refire_then_lets_it_through(evalkit_home: Path) -> None:
    kinds = run_rules(config(cooldown="3h"), [0.2, 0.0, 0.2, 0.0, 0.2])
    assert kinds == [["firing"], ["resolved"], ["suppressed"], [], ["firing"]]


def test_a_missing_metric_never_fires(evalkit_home: Path) -> None:
    assert run_rules(config(), [0.5], metric="latency_p95_ms") == [[]]


def test_against_baseline_compares_the_change(evalkit_home: Path) -> None:
    with monitor_db() as db:
        db.execute("INSERT INTO monitor_baseline_metrics VALUES (?,?,?)", (BASELINE, "error_rate", 0.3))
    kinds = run_rules(config(against="baseline", threshold=0.05), [0.32, 0.36])
    assert kinds == [[], ["firing"]]


@pytest.mark.parametrize(("rule", "message"), [
    ({"metric": "nonsense"}, "'nonsense' is not a monitor window metric"),
    ({"sinks": ["pager"]}, "undefined sinks ['pager']"),
    ({"action": "retrain"}, "there is no retrain: command"),
    ({"metric": "text_drift.prompt", "against": "baseline"}, "already relative to the baseline"),
    ({"cooldown": "soon"}, "duration 'soon' does not parse"),
])
def test_invalid_rules_are_one_line_errors(tmp_path: Path, rule: dict[str, Any], message: str) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(json.dumps({"rules": [{"name": "r", "metric": "error_rate", "op": ">", "threshold": 1, **rule}]}))
    with pytest.raises(MonitorError, match="is invalid at") as error:
        load_config(path)
    assert message in str(error.value)


def test_the_example_config_loads() -> None:
    settings = load_config(Path(__file__).parents[1] / "examples" / "monitor" / "monitor.yaml")
    assert {sink.type for sink in settings.sinks.values()} == {"webhook", "slack", "email", "file"}


def event() -> AlertEvent:
    """An alert as the rules raise it."""
    add_window(0, {"error_rate": 0.5})
    settings = config()
    with monitor_db() as db:
        raised = evaluate(db, settings, BASELINE, SPEC)
    return raised[0]


class Recorder(BaseHTTPRequestHandler):
    """Answers POSTs with the next status of ``statuses`` (then 200) and records every body."""

    statuses: ClassVar[list[int]] = []
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        status = self.statuses.pop(0) if self.statuses else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    Recorder.statuses, Recorder.bodies = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def sink(kind: str, **settings: Any) -> Any:
    return MonitorConfig.model_validate({"sinks": {"s": {"type": kind, "retries": 2, "backoff_s": 0.01,
                                                         **settings}}}).sinks["s"]


def test_webhook_posts_the_alert_as_json(evalkit_home: Path, http_server: str) -> None:
    delivery = deliver(event(), "hook", sink("webhook", url=http_server, headers={"X-Token": "t"}))
    assert (delivery.status, delivery.attempts) == ("ok", 1)
    body = Recorder.bodies[0]
    assert (body["rule"], body["status"], body["metric"], body["value"]) == ("r", "firing", "error_rate", 0.5)


def test_a_failing_webhook_is_retried_until_it_succeeds(evalkit_home: Path, http_server: str) -> None:
    Recorder.statuses = [500, 503]
    delivery = deliver(event(), "hook", sink("webhook", url=http_server))
    assert (delivery.status, delivery.attempts) == ("ok", 3)
    assert len(Recorder.bodies) == 3


def test_a_webhook_that_keeps_failing_is_reported_not_raised(evalkit_home: Path, http_server: str) -> None:
    Recorder.statuses = [500, 500, 500]
    delivery = deliver(event(), "hook", sink("webhook", url=http_server))
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert "500" in (delivery.error or "")


def test_a_client_error_is_not_retried(evalkit_home: Path, http_server: str) -> None:
    Recorder.statuses = [404]
    delivery = deliver(event(), "hook", sink("webhook", url=http_server))
    assert (delivery.status, delivery.attempts, delivery.error) == ("failed", 1, "HTTP 404 Not Found")


def test_an_unreachable_sink_fails_without_raising(evalkit_home: Path) -> None:
    delivery = deliver(event(), "hook", sink("webhook", url="http://127.0.0.1:9/hook", timeout_s=1))
    assert (delivery.status, delivery.attempts) == ("failed", 3)


def test_slack_gets_an_incoming_webhook_payload(evalkit_home: Path, http_server: str) -> None:
    deliver(event(), "slack", sink("slack", url=http_server, channel="#alerts"))
    body = Recorder.bodies[0]
    assert body["channel"] == "#alerts"
    assert "error_rate" in body["text"]
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "context"]


class SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: greets, accepts one message, records it."""

    messages: ClassVar[list[str]] = []

    def handle(self) -> None:
        self.wfile.write(b"220 test\r\n")
        while line := self.rfile.readline().decode():
            verb = line[:4].upper()
            if verb == "DATA":
                self.wfile.write(b"354 go\r\n")
                data = []
                while (part := self.rfile.readline().decode()) != ".\r\n":
                    data.append(part)
                self.messages.append("".join(data))
            if verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            self.wfile.write(b"250 ok\r\n")


def test_email_goes_over_smtp(evalkit_home: Path) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        delivery = deliver(event(), "mail", sink("email", host="127.0.0.1", port=server.server_address[1],
                                                 sender="monitor@example.com", to=["oncall@example.com"]))
    finally:
        server.shutdown()
        server.server_close()
    assert delivery.status == "ok"
    assert "Subject: [evalkit monitor] firing warning: r" in SmtpHandler.messages[0]


def test_the_file_sink_appends_json_lines(evalkit_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "alerts" / "alerts.jsonl"
    alert = event()
    for _ in range(2):
        assert deliver(alert, "file", sink("file", path=str(target))).status == "ok"
    assert [json.loads(line)["alert_id"] for line in target.read_text().splitlines()] == [alert.alert_id] * 2


def test_retrain_runs_once_per_incident(evalkit_home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "retrained.txt"
    command = f"{sys.executable} -c \"import os, pathlib; pathlib.Path(r'{marker}').write_text(os.environ[" \
              f"'EVALKIT_MONITOR_RULE'])\""
    settings = MonitorConfig.model_validate({"retrain": {"command": command, "wait": True}}).retrain
    assert settings is not None
    alert = event()
    with monitor_db() as db:
        first, second = trigger(db, alert, settings), trigger(db, alert, settings)
        recorded = db.execute("SELECT status, exit_code FROM monitor_retrains").fetchall()
    assert first is not None and (first.status, first.exit_code) == ("succeeded", 0)
    assert second is None
    assert [tuple(row) for row in recorded] == [("succeeded", 0)]
    assert marker.read_text() == "r"


def test_a_retrain_command_that_cannot_start_is_recorded(evalkit_home: Path) -> None:
    settings = MonitorConfig.model_validate({"retrain": {"command": "/nonexistent/evalkit-tune x.yaml"}}).retrain
    assert settings is not None
    with monitor_db() as db:
        run = trigger(db, event(), settings)
    assert run is not None and run.status == "failed to start"
