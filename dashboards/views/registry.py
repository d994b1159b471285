"""Registry: versions, aliases, the history of every move with the gate report behind it; for admins, promote and
rollback (with confirmation), which call the same functions as ``evalkit registry promote|rollback``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import registry_data
from dashboards.actions import Outcome, promote_version, rollback_alias
from dashboards.login import is_admin
from dashboards.sources import db_stamp, folder_stamp
from dashboards.widgets import empty_state, gate_report, page_header, short_time
from evalkit.errors import EvalkitError
from tuner.registry import ALIASES

PENDING, OUTCOME = "registry_pending_action", "registry_action_outcome"


def alias_tiles() -> None:
    """Where each alias points."""
    shown = sorted(ALIASES, key=lambda alias: alias != "production")
    for tile, alias in zip(st.columns(len(shown)), shown, strict=True):
        target = registry_data.alias_target(db_stamp(), alias)
        tile.metric(alias, target["version_id"] if target else "–")
        if target:
            tile.caption(f"`{target['spec']}` · since {short_time(target['updated_at'])} UTC")


def history(events: pd.DataFrame) -> None:
    """The log of moves, and the gate report behind the chosen one."""
    st.subheader("Promotion history")
    moves = events[events["alias"].notna()]
    st.dataframe(events.assign(at=events["at"].map(short_time)), hide_index=True, width="stretch")
    gated = moves[moves["gate_id"].notna()]
    if gated.empty:
        st.caption("No move was made through a gate yet.")
        return
    labels = {row.event_id: f"{short_time(row.at)} · {row.action} {row.alias}: {row.from_version or '–'} → "
              f"{row.to_version}" for row in gated.itertuples()}
    chosen = st.selectbox("Gate report behind", list(labels), format_func=labels.get, key="registry_move")
    gate_id = gated[gated["event_id"] == chosen].iloc[0]["gate_id"]
    result = registry_data.gate_result(gate_id, folder_stamp("gates"))
    if result is None:
        st.warning(f"The gate result {gate_id} is missing or damaged in $EVALKIT_HOME/gates.")
        return
    gate_report(result)


def promote_form(versions: pd.DataFrame) -> None:
    """Choose a version, an alias and a policy (or force with a reason); asks for confirmation next."""
    eligible = versions[versions["status"] != "rejected"]
    if eligible.empty:
        st.caption("Every version was rejected by its gate: register a new one to promote it.")
        return
    with st.form("promote"):
        st.markdown("**Promote**: runs the gate against what the alias points at now")
        version = st.selectbox("Version", list(eligible["version_id"]), key="promote_version")
        alias = st.selectbox("Alias", ALIASES, index=ALIASES.index("production"), key="promote_alias")
        policy = st.selectbox("Policy", registry_data.policy_files(folder_stamp("gates")), accept_new_options=True,
                              key="promote_policy", help="A gate policy YAML; type a path for another one.")
        force = st.checkbox("Force: skip the gate (the reason is recorded)", key="promote_force")
        reason = st.text_input("Reason (required to force)", key="promote_reason")
        if st.form_submit_button("Promote…"):
            st.session_state[PENDING] = {"kind": "promote", "version": version, "alias": alias, "policy": policy,
                                         "force_reason": reason if force else None}
            st.rerun()


def rollback_form() -> None:
    """Choose an alias to move back; asks for confirmation next."""
    with st.form("rollback"):
        st.markdown("**Roll back**: the alias returns to the version before its last move")
        alias = st.selectbox("Alias", ALIASES, index=ALIASES.index("production"), key="rollback_alias")
        reason = st.text_input("Reason (recorded)", key="rollback_reason")
        if st.form_submit_button("Roll back…"):
            st.session_state[PENDING] = {"kind": "rollback", "alias": alias, "reason": reason}
            st.rerun()


def _run(pending: dict[str, str | None]) -> Outcome:
    if pending["kind"] == "rollback":
        return rollback_alias(str(pending["alias"]), reason=pending["reason"])
    return promote_version(str(pending["version"]), alias=str(pending["alias"]), policy=pending["policy"],
                           force_reason=pending["force_reason"])


def confirmation() -> None:
    """Ask before acting; on Confirm run the action (with a spinner: a gate may score a model) and keep the outcome."""
    pending = st.session_state.get(PENDING)
    if not pending:
        return
    what = (f"roll {pending['alias']} back" if pending["kind"] == "rollback" else
            f"move {pending['alias']} to {pending['version']}" + (" without the gate" if pending["force_reason"]
                                                                  else f" if the gate {pending['policy']} passes"))
    st.warning(f"Really {what}?", icon=":material/help:")
    buttons = st.columns(2)
    if buttons[0].button("Confirm", type="primary", key="registry_confirm"):
        with st.spinner(f"Working: {what}…"):
            try:
                st.session_state[OUTCOME] = _run(pending)
            except EvalkitError as error:
                st.session_state[OUTCOME] = Outcome(False, f"error: {error}")
        st.session_state.pop(PENDING, None)
        st.rerun()
    if buttons[1].button("Cancel", key="registry_cancel"):
        st.session_state.pop(PENDING, None)
        st.rerun()


def last_outcome() -> None:
    """What the last action did (shown once)."""
    outcome: Outcome | None = st.session_state.pop(OUTCOME, None)
    if outcome is None:
        return
    (st.success if outcome.moved else st.error)(outcome.message)
    if outcome.gate is not None:
        gate_report(outcome.gate)


def actions(versions: pd.DataFrame) -> None:
    """Promote and rollback, for admins only."""
    st.subheader("Actions")
    if not is_admin():
        st.caption("Promote and rollback need the admin role.")
        return
    confirmation()
    forms = st.columns(2, border=True)
    with forms[0]:
        promote_form(versions)
    with forms[1]:
        rollback_form()


def render() -> None:
    """The registry page."""
    page_header("Registry", "Model versions, where the aliases point, and every move with the gate behind it.")
    last_outcome()
    versions = registry_data.versions(db_stamp())
    if versions.empty:
        empty_state("No version is registered yet.", "evalkit registry register CHECKPOINT --run RUN")
        return
    alias_tiles()
    st.subheader("Versions")
    st.dataframe(versions.assign(created_at=versions["created_at"].map(short_time)).drop(columns=["fingerprint"]),
                 hide_index=True, width="stretch")
    history(registry_data.events(db_stamp()))
    actions(versions)


render()
