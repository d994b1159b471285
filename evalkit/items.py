"""Per-item rows (``items.jsonl``) built from lm-eval's logged samples; the gate's paired tests read them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evalkit.atomic import write_text_atomic
from evalkit.hashing import json_sha256


def item_id(doc: dict[str, Any]) -> str:
    """Return a stable id for a document: the first 16 hex digits of the sha256 of its canonical JSON."""
    return json_sha256(doc)[:16]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _choice_logprobs(sample: dict[str, Any]) -> list[float] | None:
    responses = sample.get("filtered_resps") or []
    if responses and all(isinstance(item, list | tuple) and len(item) == 2 for item in responses):
        return [float(item[0]) for item in responses]
    return None


def _prediction(sample: dict[str, Any], logprobs: list[float] | None) -> Any:
    if logprobs is not None:
        best = max(range(len(logprobs)), key=logprobs.__getitem__)
        choices = sample.get("arguments") or []
        return choices[best][1] if best < len(choices) else best
    responses = sample.get("filtered_resps") or []
    return responses[0] if responses else None


def sample_rows(task: str, sample: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn one logged lm-eval sample into one row per metric it carries.

    Args:
        task: the task name.
        sample: an entry of ``results["samples"][task]`` from ``lm_eval.simple_evaluate``.

    Returns:
        Rows with task, item id, doc id, metric, filter, prediction, target, score, correct and, for
        loglikelihood tasks, the per-choice log-probabilities and greedy flags.
    """
    logprobs = _choice_logprobs(sample)
    greedy = [bool(item[1]) for item in sample["filtered_resps"]] if logprobs is not None else None
    prediction = _prediction(sample, logprobs)
    rows = []
    for metric in sample.get("metrics", []):
        score = _number(sample.get(metric))
        rows.append({
            "task": task,
            "item_id": item_id(sample["doc"]),
            "doc_id": sample["doc_id"],
            "metric": metric,
            "filter": sample.get("filter", "none"),
            "prediction": prediction,
            "target": sample.get("target"),
            "score": score if score is not None else sample.get(metric),
            "correct": bool(score) if score in (0.0, 1.0) else None,
            "logprobs": logprobs,
            "is_greedy": greedy,
        })
    return rows


def write_items(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as JSON lines, atomically.

    Args:
        path: the ``items.jsonl`` destination.
        rows: the item rows.
    """
    write_text_atomic(path, "".join(json.dumps(row, default=str, ensure_ascii=False) + "\n" for row in rows))


def read_items(path: Path) -> list[dict[str, Any]]:
    """Read an ``items.jsonl`` file.

    Args:
        path: the file.

    Returns:
        Its rows.
    """
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
