"""Reuse of task results: the same checkpoint fingerprint, task data, prompt and settings give the same numbers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.atomic import write_text_atomic
from evalkit.hashing import json_sha256
from evalkit.home import evalkit_home
from evalkit.scorecard import Perplexity, TaskResult, TaskSettings, Uncertainty


@dataclass
class CachedTask:
    """A stored task outcome: result, item rows, prompt perplexity and generation uncertainty."""

    run_id: str
    result: TaskResult
    items: list[dict[str, Any]]
    prompt_perplexity: Perplexity | None
    uncertainty: Uncertainty | None


def cache_key(fingerprint: str, dtype: str, task: str, hashes: tuple[str, str], settings: TaskSettings) -> str:
    """Return the key of a task outcome.

    Args:
        fingerprint: the checkpoint's content fingerprint.
        dtype: the runtime that shapes the outcome: dtype, backend, device type, bootstrap resamples and prompt
            sample size, e.g. ``float32/evalkit-prefix/cpu/bootstrap=1000/prompt-ppl=10``.
        task: the task name.
        hashes: the task's ``(data_sha256, prompt_sha256)``.
        settings: the task settings.

    Returns:
        A hex sha256 digest.
    """
    return json_sha256([fingerprint, dtype, task, list(hashes), settings.model_dump(mode="json")])


def _path(key: str) -> Path:
    return evalkit_home() / "cache" / "tasks" / f"{key}.json"


def load_cached(key: str) -> CachedTask | None:
    """Return the stored outcome for ``key``, or ``None`` when there is none (or it is unreadable)."""
    path = _path(key)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return CachedTask(
            run_id=data["run_id"], result=TaskResult.model_validate(data["result"]), items=data["items"],
            prompt_perplexity=_optional(Perplexity, data["prompt_perplexity"]),
            uncertainty=_optional(Uncertainty, data["uncertainty"]),
        )
    except (json.JSONDecodeError, KeyError, ValueError):
        return None


def _optional(model: type[Perplexity | Uncertainty], data: dict[str, Any] | None) -> Any:
    return model.model_validate(data) if data else None


def store_cached(key: str, entry: CachedTask) -> None:
    """Store a task outcome under ``key``, atomically."""
    payload = {
        "run_id": entry.run_id,
        "result": entry.result.model_dump(mode="json"),
        "items": entry.items,
        "prompt_perplexity": entry.prompt_perplexity.model_dump(mode="json") if entry.prompt_perplexity else None,
        "uncertainty": entry.uncertainty.model_dump(mode="json") if entry.uncertainty else None,
    }
    write_text_atomic(_path(key), json.dumps(payload, default=str))
