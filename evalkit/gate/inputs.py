"""The gate's inputs: a finished run (by id or by path) with its scorecard and items, and the pairing of two runs'
items. Everything is validated here, at the edge; anything that cannot be trusted is a :class:`GateError`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from evalkit import store
from evalkit.errors import GateError, RunNotFoundError
from evalkit.scorecard import Scorecard, TaskResult

ItemKey = tuple[str, Any]


@dataclass
class RunInput:
    """A finished run the gate reads: its scorecard and, when a check needs them, its items."""

    source: str
    scorecard: Scorecard
    scorecard_path: Path
    _rows: dict[tuple[str, str, str], list[dict[str, Any]]] | None = field(default=None, repr=False)

    @property
    def items_path(self) -> Path:
        """``items.jsonl`` beside the scorecard (a copied run folder), else the path the scorecard records."""
        beside = self.scorecard_path.parent / "items.jsonl"
        return beside if beside.is_file() else Path(self.scorecard.items_path)

    def rows(self, task: str, metric: str, filter_name: str) -> list[dict[str, Any]]:
        """The item rows of one task metric (items.jsonl is read once, on first use)."""
        if self._rows is None:
            self._rows = {}
            for row in _read_rows(self.items_path, self.source):
                key = (str(row.get("task")), str(row.get("metric")), str(row.get("filter", "none")))
                self._rows.setdefault(key, []).append(row)
        return self._rows.get((task, metric, filter_name), [])


def _read_rows(path: Path, source: str) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    raise GateError(f"items file {path} (of {source}) line {number} is not JSON: the file is "
                                    "damaged; re-score the run") from None
                if not isinstance(row, dict):
                    raise GateError(f"items file {path} (of {source}) line {number} is not a JSON object: re-score")
                yield row
    except OSError as error:
        raise GateError(f"cannot read items file {path} (of {source}): {error.strerror or error}; keep "
                        "items.jsonl beside scorecard.json") from None


def _store_status(run_id: str) -> str | None:
    return next((record.status for record in store.list_runs(include_unfinished=True) if record.run_id == run_id),
                None)


def _scorecard_file(reference: str) -> Path:
    path = Path(reference)
    if path.is_dir():
        if not (path / "scorecard.json").is_file():
            raise GateError(f"run folder {path} has no scorecard.json: the run did not finish; gate finished runs only")
        return path / "scorecard.json"
    if path.is_file():
        return path
    if reference.endswith(".json") or "/" in reference or "\\" in reference:
        raise GateError(f"{reference} does not exist: give a finished run id or a scorecard.json path")
    try:
        return store.get_run(reference).path / "scorecard.json"
    except RunNotFoundError:
        status = _store_status(reference)
        if status is not None:
            raise GateError(f"run {reference} is {status}, not finished: gate finished runs only") from None
        raise


def load_run(reference: str) -> RunInput:
    """Load a finished run for the gate.

    Args:
        reference: a run id (or unique prefix, or ``latest``) in ``$EVALKIT_HOME``, a run folder, or a
            ``scorecard.json`` path (e.g. a CI artifact; its ``items.jsonl`` is read from beside it).

    Returns:
        The :class:`RunInput`.

    Raises:
        GateError: the run is unknown or unfinished, or its scorecard is unreadable or invalid.
    """
    path = _scorecard_file(reference)
    try:
        scorecard = Scorecard.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise GateError(f"cannot read scorecard {path}: {error}") from None
    except ValidationError as error:
        raise GateError(f"{path} is not a valid evalkit scorecard ({error.error_count()} errors, first at "
                        f"{'.'.join(map(str, error.errors()[0]['loc'])) or 'top level'}): pass a scorecard.json "
                        "written by evalkit score") from None
    status = _store_status(scorecard.run_id)
    if status not in (None, "finished"):
        raise GateError(f"run {scorecard.run_id} is {status} in the run store, not finished: gate finished runs only")
    return RunInput(source=reference, scorecard=scorecard, scorecard_path=path)


def ensure_comparable(candidate: TaskResult, baseline: TaskResult) -> None:
    """Refuse to compare a task scored on different data, prompts or settings in the two runs.

    Raises:
        GateError: naming each field that differs.
    """
    differences = [f"{name} {getattr(candidate, name)} vs {getattr(baseline, name)}"
                   for name in ("version", "data_sha256", "prompt_sha256") if getattr(candidate, name) !=
                   getattr(baseline, name)]
    mine, theirs = candidate.settings.model_dump(), baseline.settings.model_dump()
    differences += [f"settings.{key} {mine[key]!r} vs {theirs[key]!r}" for key in mine if mine[key] != theirs[key]]
    if differences:
        raise GateError(f"task {candidate.name} was scored differently in candidate and baseline "
                        f"({'; '.join(differences)}): score both with the same suite and settings")


@dataclass(frozen=True)
class PairedScores:
    """One task metric's per-item scores in both runs, aligned by item."""

    candidate: np.ndarray
    baseline: np.ndarray

    @property
    def binary(self) -> bool:
        """Whether every score in both runs is 0 or 1 (then McNemar applies)."""
        return bool(np.isin(self.candidate, (0.0, 1.0)).all() and np.isin(self.baseline, (0.0, 1.0)).all())


def _scores_by_item(run: RunInput, role: str, task: str, metric: str, filter_name: str,
                    expected_n: int, expected_value: float) -> dict[ItemKey, float]:
    label = f"{task}.{metric},{filter_name}"
    scores: dict[ItemKey, float] = {}
    for row in run.rows(task, metric, filter_name):
        score = row.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not np.isfinite(score):
            raise GateError(f"{label} has per-item score {score!r} in the {role} items: it is a corpus-level "
                            "metric (e.g. F1, MCC) that relative checks cannot pair; use an absolute check")
        key = (str(row.get("item_id")), row.get("doc_id"))
        if key in scores:
            raise GateError(f"{label} has two rows for item {key[0]} in {run.items_path}: the file is damaged")
        scores[key] = float(score)
    if len(scores) != expected_n:
        raise GateError(f"{run.items_path} does not match the {role} scorecard for {label} ({len(scores)} rows, "
                        f"scorecard n={expected_n}): the items file belongs to another run; re-score")
    mean = sum(scores.values()) / max(len(scores), 1)
    if abs(mean - expected_value) > 1e-6:
        raise GateError(f"the {role} items of {label} average {mean:.6g} but its scorecard says {expected_value:.6g}: "
                        "the metric is not a mean over items (relative checks need one; use an absolute check) or "
                        "the items file belongs to another run")
    return scores


def paired_scores(candidate: RunInput, baseline: RunInput, *, task: str, metric: str, filter_name: str,
                  expected: tuple[tuple[int, float], tuple[int, float]]) -> PairedScores:
    """Pair the per-item scores of one task metric by item id (and document index, for duplicate documents).

    Args:
        candidate: the candidate run.
        baseline: the baseline run.
        task: the task name.
        metric: the metric name.
        filter_name: the filter.
        expected: ``((n, value), (n, value))`` from the candidate's and the baseline's scorecards; the items
            must reproduce them.

    Returns:
        The aligned :class:`PairedScores`.

    Raises:
        GateError: non-numeric scores, duplicate rows, items that disagree with the scorecard, or item sets
            that differ between the runs.
    """
    mine = _scores_by_item(candidate, "candidate", task, metric, filter_name, *expected[0])
    theirs = _scores_by_item(baseline, "baseline", task, metric, filter_name, *expected[1])
    if mine.keys() != theirs.keys():
        only = len(mine.keys() - theirs.keys()), len(theirs.keys() - mine.keys())
        raise GateError(f"{task}.{metric},{filter_name}: the runs scored different items ({only[0]} only in the "
                        f"candidate, {only[1]} only in the baseline): score both on the same items")
    if not mine:
        raise GateError(f"{task}.{metric},{filter_name} has no item rows: relative checks need items.jsonl rows")
    keys = sorted(mine, key=str)
    return PairedScores(np.array([mine[key] for key in keys]), np.array([theirs[key] for key in keys]))
