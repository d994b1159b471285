"""Cached reads of scoring runs: the run index, scorecards, their per-task metrics, items, safety sections, and
the comparison of two runs (independent deltas from :mod:`evalkit.compare`, paired tests from the gate's
``relative`` check)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, TypeGuard

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from dashboards.sources import Stamp, file_stamp, query
from evalkit.scorecard import Metric, Scorecard

RUN_COLUMNS = ["run_id", "created_at", "status", "spec", "fingerprint", "suite", "path", "finished_at"]
METRIC_COLUMNS = ["kind", "task", "metric", "filter", "value", "stderr", "n", "higher_is_better", "ci_low",
                  "ci_high"]
Z95 = 1.959964
_CATEGORY = re.compile(r"^(?P<metric>[^\[]+)\[(?P<category>.*)\]$")


@st.cache_data(show_spinner=False)
def runs(db: Stamp) -> pd.DataFrame:
    """Every indexed run, newest first.

    Args:
        db: :func:`dashboards.sources.db_stamp` (the cache key).

    Returns:
        One row per run with :data:`RUN_COLUMNS`; ``created_at`` is a UTC timestamp.
    """
    del db
    frame = query(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY created_at DESC, run_id DESC",
                  columns=RUN_COLUMNS)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    return frame


def finished_runs(db: Stamp) -> pd.DataFrame:
    """The finished runs (those with a scorecard), newest first."""
    frame = runs(db)
    return frame[frame["status"] == "finished"].reset_index(drop=True)


@st.cache_data(show_spinner=False, max_entries=128)
def _scorecard(path: str, mtime: int) -> Scorecard | None:
    del mtime
    try:
        return Scorecard.load(Path(path))
    except (OSError, ValueError, ValidationError):
        return None


def load_scorecard(run_folder: str | Path) -> Scorecard | None:
    """A run's scorecard (cached until the file changes); ``None`` when it is missing or unreadable."""
    path = Path(run_folder) / "scorecard.json"
    return _scorecard(str(path), file_stamp(path))


def _metric_row(kind: str, task: str, metric: Metric) -> dict[str, Any]:
    low = high = None
    if metric.value is not None and metric.stderr is not None:
        low, high = metric.value - Z95 * metric.stderr, metric.value + Z95 * metric.stderr
    return {"kind": kind, "task": task, "metric": metric.name, "filter": metric.filter, "value": metric.value,
            "stderr": metric.stderr, "n": metric.n, "higher_is_better": metric.higher_is_better, "ci_low": low,
            "ci_high": high}


def task_metrics(card: Scorecard) -> pd.DataFrame:
    """Every metric of a scorecard's tasks, lm-eval groups, safety prompt sets and RAG tasks, with a 95% interval.

    Args:
        card: the scorecard.

    Returns:
        One row per metric with :data:`METRIC_COLUMNS` (``kind`` is task, group, safety or rag; the interval is
        value +- 1.96 stderr and empty where the scorecard has no stderr).
    """
    rows = [_metric_row("task", task.name, metric) for task in card.tasks for metric in task.metrics]
    rows += [_metric_row("group", group.name, metric) for group in card.groups for metric in group.metrics]
    for kind, section in (("safety", card.safety), ("rag", card.rag)):
        if section is not None:
            rows += [_metric_row(kind, task.name, metric) for task in section.tasks for metric in task.metrics]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def training_losses(card: Scorecard) -> pd.DataFrame:
    """The training section's loss curves in long form (step, loss, curve: train or eval); empty without one."""
    if card.training is None:
        return pd.DataFrame(columns=["step", "loss", "curve"])
    rows = [{"step": point.step, "loss": point.loss, "curve": curve}
            for curve, points in (("train", card.training.train_loss), ("eval", card.training.eval_loss))
            for point in points]
    return pd.DataFrame(rows, columns=["step", "loss", "curve"])


def _cell(value: Any) -> Any:
    """Items carry lists and objects (choice log-probs, targets); the table shows those as JSON text."""
    return value if value is None or isinstance(value, str | int | float | bool) else json.dumps(value)


@st.cache_data(show_spinner="Reading items…", max_entries=16)
def _items(path: str, mtime: int) -> pd.DataFrame:
    del mtime
    with open(path, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    frame = pd.DataFrame.from_records(records)
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(_cell)
    return frame


def load_items(card: Scorecard, run_folder: str | Path) -> pd.DataFrame:
    """A run's ``items.jsonl`` as a frame (one row per item and metric); empty when the file is missing.

    Args:
        card: the run's scorecard (it records where its items are).
        run_folder: the run's folder (``items.jsonl`` beside the scorecard wins, as for the gate).

    Returns:
        The item rows, lists and objects rendered as JSON text.
    """
    beside = Path(run_folder) / "items.jsonl"
    path = beside if beside.is_file() else Path(card.items_path)
    if not path.is_file():
        return pd.DataFrame(columns=["task", "item_id", "doc_id", "metric", "filter", "prediction", "target",
                                     "score", "correct"])
    return _items(str(path), file_stamp(path))


def split_category(name: str) -> tuple[str, str | None]:
    """``unsafe_response_rate[S1]`` -> (``unsafe_response_rate``, ``S1``); a plain name has no category."""
    match = _CATEGORY.match(name)
    return (match["metric"], match["category"]) if match else (name, None)


def safety_by_category(card: Scorecard) -> pd.DataFrame:
    """The safety section's per-category rates (hazard category, jailbreak technique, XSTest type, group).

    Args:
        card: a scorecard with a safety section.

    Returns:
        Columns set, metric, category, value, stderr, n, ci_low, ci_high; one row per rate and category.
    """
    rows = []
    for key, metrics in (card.safety.by_category.items() if card.safety else []):
        set_name = key.split(".", 1)[0]
        for metric in metrics:
            base, category = split_category(metric.name)
            row = _metric_row("safety", set_name, metric)
            rows.append({"set": set_name, "metric": base, "category": category, **{
                name: row[name] for name in ("value", "stderr", "n", "ci_low", "ci_high")}})
    return pd.DataFrame(rows, columns=["set", "metric", "category", "value", "stderr", "n", "ci_low", "ci_high"])


@st.cache_data(show_spinner=False)
def safety_prompts(set_name: str) -> dict[str, str]:
    """The bundled safety set's prompts by id (empty for an unknown set)."""
    from guards.safety import SETS, load_set

    if set_name not in SETS:
        return {}
    prompts, _ = load_set(set_name)
    return {prompt.id: prompt.prompt for prompt in prompts}


def metric_label(task: str, metric: str, filter_name: str) -> str:
    """The gate's metric path of a task metric: ``task.metric`` or ``task.metric,filter``."""
    return f"{task}.{metric}" if filter_name == "none" else f"{task}.{metric},{filter_name}"


def finite(value: float | None) -> TypeGuard[float]:
    """Whether a value is a real number (not None, not NaN)."""
    return value is not None and not math.isnan(value)
