"""Safety: a run's safety suite: headline rates, unsafe / refusal / over-refusal rates per category with error bars,
and the items behind each rate (prompt, reply, the guard's and the refusal detector's scores)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import runs_data
from dashboards.charts import interval_chart
from dashboards.sources import db_stamp
from dashboards.widgets import empty_state, page_header, pick_run, rate
from evalkit.scorecard import Scorecard
from guards.taxonomy import LLAMA_GUARD_3

# Newest runs whose scorecards are opened to find safety sections (keeps the page fast on a large store).
SCAN_RUNS = 200
DEFAULT_RATES = ("harmful.unsafe_response_rate", "harmful.refusal_rate", "benign.over_refusal_rate")


def safety_runs() -> pd.DataFrame:
    """The finished runs (of the newest :data:`SCAN_RUNS`) whose scorecard has a safety section."""
    runs = runs_data.finished_runs(db_stamp()).head(SCAN_RUNS)
    keep = [card is not None and card.safety is not None for card in map(runs_data.load_scorecard, runs["path"])]
    return runs[keep].reset_index(drop=True)


def headline(card: Scorecard) -> None:
    """The summary rates, with their standard error and n."""
    assert card.safety is not None
    section = card.safety
    st.caption(f"guard `{section.guard}` at threshold {section.threshold} · refusal detector "
               f"`{section.refusal_detector}` · {section.guard_parse_errors} unparsed guard outputs")
    tiles = st.columns(max(1, len(section.summary)))
    for tile, metric in zip(tiles, section.summary, strict=False):
        tile.metric(metric.name, rate(metric.value), help=f"± {rate(metric.stderr)} (standard error), n = {metric.n}")


def category_label(category: str | None) -> str:
    """A hazard code with its Llama Guard 3 name (``S1 Violent Crimes``); other groups as they are."""
    return f"{category} {LLAMA_GUARD_3[category]}" if category in LLAMA_GUARD_3 else str(category)


def category_charts(by_category: pd.DataFrame) -> None:
    """One chart per chosen rate: its value per category with a 95% interval."""
    keys = sorted({f"{row.set}.{row.metric}" for row in by_category.itertuples()})
    chosen = st.multiselect("Rates per category", keys, default=[key for key in DEFAULT_RATES if key in keys],
                            key="safety_rates")
    for key in chosen:
        set_name, metric = key.split(".", 1)
        rows = by_category[(by_category["set"] == set_name) & (by_category["metric"] == metric)]
        charted = rows.assign(category=rows["category"].map(category_label))
        st.altair_chart(interval_chart(charted, category="category", unit_interval=True,
                                       title=f"{key} (95% interval)"),
                        width="stretch")


def example_items(card: Scorecard, run_folder: str) -> None:
    """The judged replies behind one rate and category, flagged items first."""
    st.subheader("Example items")
    items = runs_data.load_items(card, run_folder)
    items = items[items["task"].astype(str).str.startswith("safety_")] if not items.empty else items
    if items.empty or "group" not in items.columns:
        empty_state("This run's items.jsonl has no safety rows.")
        return
    columns = st.columns(3)
    task = columns[0].selectbox("Prompt set", list(dict.fromkeys(items["task"])), key="safety_task")
    rows = items[items["task"] == task]
    metric = columns[1].selectbox("Rate", list(dict.fromkeys(rows["metric"])), key="safety_metric")
    rows = rows[rows["metric"] == metric]
    group = columns[2].selectbox("Category", list(dict.fromkeys(rows["group"].astype(str))), key="safety_group",
                                 format_func=category_label)
    rows = rows[rows["group"].astype(str) == group].sort_values("score", ascending=False, kind="stable")
    prompts = runs_data.safety_prompts(task.removeprefix("safety_"))
    shown = rows.assign(prompt=rows["item_id"].map(prompts), reply=rows["prediction"],
                        counted=rows["score"].astype(float) > 0)
    st.caption(f"{len(shown)} items · {int(shown['counted'].sum())} counted in {metric}")
    st.dataframe(shown[["item_id", "prompt", "reply", "counted", "unsafe_prob", "refusal_prob"]], hide_index=True,
                 width="stretch", column_config={"counted": st.column_config.CheckboxColumn(f"counts in {metric}")})


def render() -> None:
    """The safety page."""
    page_header("Safety", "The safety suite's rates (replies judged by a guard and a refusal detector), per category, "
                "with the items behind them.")
    runs = safety_runs()
    if runs.empty:
        empty_state("No run has a safety section yet.", "evalkit score CHECKPOINT --suite safety-quick")
        return
    run = pick_run("Run", runs, key="safety_run")
    card = runs_data.load_scorecard(run["path"])
    assert card is not None
    headline(card)
    category_charts(runs_data.safety_by_category(card))
    example_items(card, run["path"])


render()
