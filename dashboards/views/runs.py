"""Runs: the run index with filters; one run's scorecard (per-task scores with 95% error bars); its items."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import runs_data
from dashboards.charts import interval_chart, loss_chart
from dashboards.sources import db_stamp
from dashboards.widgets import empty_state, number, page_header, pick_run, short_time
from evalkit.scorecard import Scorecard

FIRST_METRIC = "each task's first metric"
RAG_COLUMNS = {"name", "family", "value", "stderr", "n", "skipped", "judge_failure_rate", "reliable"}


def filtered_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The filters (status, checkpoint, suite, text) and the table of the runs that pass them."""
    columns = st.columns(4)
    options = sorted(runs["status"].unique())
    statuses = columns[0].multiselect("Status", options, default=[name for name in options if name == "finished"])
    specs = columns[1].multiselect("Checkpoint", sorted(runs["spec"].unique()))
    suites = columns[2].multiselect("Suite", sorted(runs["suite"].dropna().unique()))
    text = columns[3].text_input("Run id contains", "")
    keep = runs["status"].isin(statuses or runs["status"].unique())
    keep &= runs["spec"].isin(specs or runs["spec"].unique())
    if suites:
        keep &= runs["suite"].isin(suites)
    if text.strip():
        keep &= runs["run_id"].str.contains(text.strip(), case=False, regex=False)
    shown = runs[keep].reset_index(drop=True)
    st.caption(f"{len(shown)} of {len(runs)} runs")
    table = shown.assign(created=shown["created_at"].map(short_time), fingerprint=shown["fingerprint"].str[:19])
    st.dataframe(table[["run_id", "status", "spec", "suite", "created", "fingerprint"]], hide_index=True,
                 width="stretch")
    return shown


def scorecard_view(card: Scorecard, run: pd.Series) -> None:
    """A run's headline facts, per-task scores with error bars for one metric, and every metric in a table."""
    metrics = runs_data.task_metrics(card)
    st.markdown(f"`{card.checkpoint.spec}` · {card.checkpoint.kind} · {card.checkpoint.dtype} · "
                f"backend {card.checkpoint.backend} · `{card.checkpoint.fingerprint[:23]}…`")
    facts = st.columns(4)
    facts[0].metric("tasks", len(card.tasks) + (len(card.safety.tasks) if card.safety else 0))
    facts[1].metric("suite", card.suite or run["suite"] or "–")
    facts[2].metric("items", f"{int(metrics['n'].groupby(metrics['task']).max().sum()):,}" if len(metrics) else "0")
    facts[3].metric("total seconds", number(card.timings.get("total"), 1))
    if metrics.empty:
        empty_state("This scorecard has no task metrics.")
        return
    chosen = st.selectbox("Metric to chart", [FIRST_METRIC, *metrics["metric"].value_counts().index],
                          key="runs_chart_metric")
    charted = metrics.drop_duplicates("task") if chosen == FIRST_METRIC else metrics[metrics["metric"] == chosen]
    charted = charted.assign(label=charted["task"] + " · " + charted["metric"])
    proportions = bool(charted["value"].between(0, 1).all())
    st.altair_chart(interval_chart(charted, category="label", unit_interval=proportions,
                                   title="Scores per task (95% interval)"), width="stretch")
    st.dataframe(metrics.drop(columns=["higher_is_better"]), hide_index=True, width="stretch", column_config={
        name: st.column_config.NumberColumn(format="%.4f") for name in ("value", "stderr", "ci_low", "ci_high")})


def sections_view(card: Scorecard) -> None:
    """A fine-tuned checkpoint's loss curves and curve verdicts; a RAG run's metrics with the judge's failures."""
    if card.safety is not None:
        st.page_link("views/safety.py", label="This run has a safety section: see the Safety page",
                     icon=":material/shield:")
    if card.training is not None:
        training = card.training
        st.subheader("Training")
        st.caption(f"{training.method} with {training.adapter} on `{training.base}` · {training.steps} steps · "
                   f"best step {training.best_step if training.best_step is not None else '–'}")
        st.altair_chart(loss_chart(runs_data.training_losses(card)), width="stretch")
        st.dataframe(pd.DataFrame([{"verdict": verdict.name, "result": verdict.verdict, "reason": verdict.reason}
                                   for verdict in training.verdicts]), hide_index=True, width="stretch")
    if card.rag is not None:
        st.subheader("RAG")
        st.caption(f"{card.rag.items} items from {card.rag.source} · judge `{card.rag.judge or 'none'}`")
        st.dataframe(pd.DataFrame([metric.model_dump(include=RAG_COLUMNS) for metric in card.rag.metrics]),
                     hide_index=True, width="stretch")


def items_view(card: Scorecard, run_folder: str) -> None:
    """Drill into one task metric's items: predictions, targets, scores; optionally only the misses."""
    st.subheader("Items")
    items = runs_data.load_items(card, run_folder)
    if items.empty:
        empty_state("This run has no items.jsonl.")
        return
    columns = st.columns([2, 2, 1])
    task = columns[0].selectbox("Task", sorted(items["task"].unique()), key="items_task")
    of_task = items[items["task"] == task]
    metric = columns[1].selectbox("Metric", sorted(of_task["metric"].unique()), key="items_metric")
    misses = columns[2].toggle("Only score 0", key="items_misses")
    rows = of_task[of_task["metric"] == metric]
    scored = rows["score"].astype(float)
    st.caption(f"{len(rows)} items · mean score {number(scored.mean(), 4)} · {int((scored > 0).sum())} scored above 0")
    if misses:
        rows = rows[scored == 0]
    shown = [name for name in ("doc_id", "item_id", "group", "prediction", "target", "score", "correct",
                               "unsafe_prob", "refusal_prob") if name in rows.columns]
    st.dataframe(rows[shown], hide_index=True, width="stretch")


def render() -> None:
    """The runs page."""
    page_header("Runs", "Every scoring run in the store; pick one for its scorecard and items.")
    runs = runs_data.runs(db_stamp())
    if runs.empty:
        empty_state("No run is stored yet.", "evalkit score smollm2 --suite quick")
        return
    shown = filtered_runs(runs)
    finished = shown[shown["status"] == "finished"]
    if finished.empty:
        empty_state("No finished run matches the filters.")
        return
    run = pick_run("Run", finished, key="runs_run")
    card = runs_data.load_scorecard(run["path"])
    if card is None:
        st.error(f"{run['path']}/scorecard.json is missing or unreadable: score the checkpoint again.")
        return
    st.header(run["run_id"])
    scorecard_view(card, run)
    sections_view(card)
    items_view(card, run["path"])


render()
