"""Cached reads of the model registry (versions, aliases, the log of moves) and of stored gate results."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards.sources import Stamp, query
from evalkit.errors import GateError
from evalkit.gate.history import gates_dir, load_gate_result
from evalkit.gate.result import GateResult
from evalkit.home import evalkit_home

VERSION_COLUMNS = ["version_id", "created_at", "status", "spec", "aliases", "run_ids", "note", "fingerprint"]
ALIAS_COLUMNS = ["alias", "version_id", "updated_at", "spec", "status"]
EVENT_COLUMNS = ["event_id", "at", "action", "alias", "from_version", "to_version", "gate_id", "reason"]
GATE_COLUMNS = ["gate_id", "created_at", "verdict", "policy", "policy_path", "candidate", "candidate_spec", "baseline",
                "passed", "failed", "inconclusive", "blocking"]


@st.cache_data(show_spinner=False)
def versions(db: Stamp) -> pd.DataFrame:
    """Registered versions, newest first, with the aliases that point at each (comma-separated)."""
    del db
    frame = query(
        "SELECT v.version_id, v.created_at, v.status, v.spec, "
        "COALESCE((SELECT group_concat(a.alias, ', ') FROM registry_aliases a WHERE a.version_id = v.version_id), '') "
        "AS aliases, v.run_ids, COALESCE(v.note, '') AS note, v.fingerprint FROM registry_versions v "
        "ORDER BY v.created_at DESC, v.version_id DESC", columns=VERSION_COLUMNS)
    frame["run_ids"] = frame["run_ids"].map(lambda text: ", ".join(json.loads(text)))
    return frame


@st.cache_data(show_spinner=False)
def aliases(db: Stamp) -> pd.DataFrame:
    """Each alias with the version it points at and that version's spec and status."""
    del db
    return query("SELECT a.alias, a.version_id, a.updated_at, v.spec, v.status FROM registry_aliases a "
                 "LEFT JOIN registry_versions v USING (version_id) ORDER BY a.alias", columns=ALIAS_COLUMNS)


def alias_target(db: Stamp, alias: str) -> dict[str, str] | None:
    """The row of ``alias`` (version_id, updated_at, spec, status), or ``None`` when it points at nothing."""
    frame = aliases(db)
    found = frame[frame["alias"] == alias]
    return None if found.empty else found.iloc[0].to_dict()


@st.cache_data(show_spinner=False)
def events(db: Stamp) -> pd.DataFrame:
    """The registry log (registrations, rejections, promotions, forced promotions, rollbacks), newest first."""
    del db
    return query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM registry_events ORDER BY event_id DESC",
                 columns=EVENT_COLUMNS)


@st.cache_data(show_spinner="Reading gate results…")
def gate_index(gates: Stamp) -> pd.DataFrame:
    """Every stored gate result, newest first, one summary row each (unreadable files are left out).

    Args:
        gates: :func:`dashboards.sources.folder_stamp` of ``gates`` (the cache key).

    Returns:
        Rows with :data:`GATE_COLUMNS`.
    """
    del gates
    rows = []
    for path in sorted(gates_dir().glob("*.json"), reverse=True) if gates_dir().is_dir() else []:
        try:
            result = GateResult.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        counts = result.counts()
        rows.append({"gate_id": result.gate_id, "created_at": result.created_at, "verdict": result.verdict,
                     "policy": result.policy.name, "policy_path": result.policy.path,
                     "candidate": result.candidate.run_id, "candidate_spec": result.candidate.spec,
                     "baseline": result.baseline.run_id if result.baseline else None,
                     "passed": counts["pass"], "failed": counts["fail"], "inconclusive": counts["inconclusive"],
                     "blocking": counts["blocking"]})
    frame = pd.DataFrame(rows, columns=GATE_COLUMNS)
    return frame.sort_values("created_at", ascending=False, kind="stable").reset_index(drop=True)


def policy_files(gates: Stamp) -> list[str]:
    """Policy files to offer for a promotion: those past gates used, then ``$EVALKIT_HOME/policies/*.yaml`` and
    ``examples/policies/*.yaml`` under the working folder, each once and only if it still exists."""
    found = list(gate_index(gates)["policy_path"])
    for folder in (evalkit_home() / "policies", Path("examples") / "policies"):
        found += sorted(str(path) for path in folder.glob("*.yaml"))
    return [path for path in dict.fromkeys(found) if Path(path).is_file()]


@st.cache_data(show_spinner=False, max_entries=64)
def gate_result(gate_id: str, gates: Stamp) -> GateResult | None:
    """A stored gate result by id; ``None`` when it is missing or damaged."""
    del gates
    try:
        return load_gate_result(gate_id)
    except GateError:
        return None
