"""Widgets the pages share: empty states, verdicts, run pickers, number formats and the gate report."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.runs_data import finite
from evalkit.gate.result import GateResult
from evalkit.home import evalkit_home

VERDICT_BADGES = {"pass": ":green-background[PASS]", "fail": ":red-background[FAIL]",
                  "inconclusive": ":orange-background[INCONCLUSIVE]"}


def page_header(title: str, caption: str) -> None:
    """The page title and one line on what it shows."""
    st.title(title)
    st.caption(caption)


def empty_state(message: str, command: str | None = None) -> None:
    """Say that there is nothing to show yet, and the command that produces it."""
    st.info(message + (f"  \nRun `{command}`." if command else ""), icon=":material/inbox:")


def verdict_badge(verdict: str) -> str:
    """A coloured Markdown badge for a gate or check verdict."""
    return VERDICT_BADGES.get(verdict, f":gray-background[{verdict.upper()}]")


def number(value: float | None, digits: int = 3) -> str:
    """A number for a table or tile; an en dash when missing."""
    return f"{value:.{digits}f}" if finite(value) else "–"


def rate(value: float | None, stderr: float | None = None) -> str:
    """A proportion as a percentage, with its standard error when known (e.g. ``12.5% ± 3.1``)."""
    if not finite(value):
        return "–"
    return f"{100 * value:.1f}%" + (f" ± {100 * stderr:.1f}" if finite(stderr) else "")


def short_time(value: object) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM`` UTC."""
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").strftime("%Y-%m-%d %H:%M")


def pick_run(label: str, runs: pd.DataFrame, *, key: str, index: int = 0) -> pd.Series:
    """A select box over runs (``run_id · spec``), returning the chosen row.

    Args:
        label: the widget's label.
        runs: rows of :data:`dashboards.runs_data.RUN_COLUMNS`, at least one.
        key: the widget key.
        index: the preselected row.

    Returns:
        The chosen run's row.
    """
    labels = {row.run_id: f"{row.run_id} · {row.spec}" for row in runs.itertuples()}
    chosen = st.selectbox(label, list(labels), index=min(index, len(labels) - 1), format_func=labels.get, key=key)
    return runs[runs["run_id"] == chosen].iloc[0]


def store_caption() -> None:
    """Which run store the dashboard reads (shown in the sidebar)."""
    st.caption(f"Store: `{evalkit_home()}`")


def checks_table(result: GateResult) -> pd.DataFrame:
    """One row per check of a gate result, with the evidence people look at first."""
    rows = []
    for check in result.checks:
        evidence = check.evidence
        interval = (f"[{evidence.ci_low:+.4f}, {evidence.ci_high:+.4f}]"
                    if evidence.ci_low is not None and evidence.ci_high is not None else "")
        rows.append({"check": check.name, "kind": check.kind, "verdict": check.verdict, "blocks": check.blocks,
                     "metric": evidence.metric or "", "candidate": evidence.candidate, "baseline": evidence.baseline,
                     "delta": evidence.delta, "interval": interval, "p": evidence.p_value, "n": evidence.n,
                     "reason": check.reason})
    return pd.DataFrame(rows)


def gate_report(result: GateResult, *, compact: bool = False) -> None:
    """A gate result: the verdict, what was compared, and (unless compact) every check with its evidence.

    Args:
        result: the stored gate result.
        compact: only the verdict line and the counts (for the overview).
    """
    counts = result.counts()
    baseline = f" vs `{result.baseline.spec}` ({result.baseline.run_id})" if result.baseline else ""
    st.markdown(f"{verdict_badge(result.verdict)} **{result.policy.name}** · `{result.candidate.spec}` "
                f"({result.candidate.run_id}){baseline}")
    st.caption(f"gate {result.gate_id} · {short_time(result.created_at)} UTC · {counts['pass']} passed, "
               f"{counts['fail']} failed, {counts['inconclusive']} inconclusive, {counts['blocking']} blocking")
    if compact:
        return
    st.dataframe(checks_table(result), hide_index=True, width="stretch", column_config={
        "candidate": st.column_config.NumberColumn(format="%.4f"),
        "baseline": st.column_config.NumberColumn(format="%.4f"),
        "delta": st.column_config.NumberColumn(format="%+.4f"),
        "p": st.column_config.NumberColumn(format="%.3g")})
