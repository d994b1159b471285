"""Retraining triggers: an incident opened by a rule with ``action: retrain`` runs the configured command once
(``monitor_retrains`` is keyed by incident). The command only trains; promotion is still the tuner's gate's call.

The command runs without a shell (``shlex.split``), with ``EVALKIT_MONITOR_INCIDENT``, ``EVALKIT_MONITOR_RULE``
and ``EVALKIT_MONITOR_ALERT`` (the alert JSON) in its environment; its output goes to
``$EVALKIT_HOME/monitor/retrain/<incident>.log``.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
from dataclasses import dataclass

from monitor.config import RetrainSettings
from monitor.db import now_iso
from monitor.rules import AlertEvent
from monitor.storage import monitor_home


@dataclass(frozen=True)
class RetrainRun:
    """A started retrain command."""

    incident_id: str
    command: str
    status: str
    pid: int | None
    exit_code: int | None
    log_path: str


def trigger(db: sqlite3.Connection, event: AlertEvent, settings: RetrainSettings) -> RetrainRun | None:
    """Run the retrain command for a newly opened incident, unless it already ran for that incident.

    Args:
        db: an open monitor database.
        event: the ``firing`` alert that opened the incident.
        settings: the command, and whether to wait for it.

    Returns:
        The run, or None when the incident already had one.
    """
    assert event.incident_id is not None
    if db.execute("SELECT 1 FROM monitor_retrains WHERE incident_id = ?", (event.incident_id,)).fetchone():
        return None
    log_path = monitor_home() / "retrain" / f"{event.incident_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "EVALKIT_MONITOR_INCIDENT": event.incident_id, "EVALKIT_MONITOR_RULE": event.rule.name,
           "EVALKIT_MONITOR_ALERT": json.dumps(event.payload())}
    started, pid, code = now_iso(), None, None
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            process = subprocess.Popen(shlex.split(settings.command), stdout=log, stderr=subprocess.STDOUT, env=env,
                                       cwd=settings.cwd, start_new_session=not settings.wait)
            pid = process.pid
            status = "started"
            if settings.wait:
                code = process.wait(timeout=settings.timeout_s)
                status = "succeeded" if code == 0 else "failed"
        except subprocess.TimeoutExpired:
            process.kill()
            status = "timed out"
        except OSError as error:
            log.write(f"could not start {settings.command!r}: {error}\n")
            status = "failed to start"
    run = RetrainRun(event.incident_id, settings.command, status, pid, code, str(log_path))
    db.execute("INSERT INTO monitor_retrains VALUES (?,?,?,?,?,?,?,?,?)",
               (event.incident_id, event.rule.name, settings.command, started, pid, code,
                now_iso() if settings.wait else None, str(log_path), status))
    return run
