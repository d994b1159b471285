"""Synthetic runs for the gate tests: scorecards built with evalkit's pydantic models and ``items.jsonl`` rows whose
answer is known, written into a run folder. The tests in this file check that the builders make valid runs.

``paired_outcomes`` makes a baseline that is right on a given share of items and a candidate that differs from it
on exactly ``gains`` (wrong -> right) and ``losses`` (right -> wrong) items.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.gate import load_run
from evalkit.items import read_items, write_items
from evalkit.scorecard import (
    CheckpointInfo,
    Environment,
    Factuality,
    Metric,
    Perplexity,
    SafetySection,
    Scorecard,
    SeedMetrics,
    TaskResult,
    TaskSettings,
)

TASK = "evalkit_arc_easy"
DATA_SHA = "d" * 64
PROMPT_SHA = "p" * 64


def paired_outcomes(n: int, *, accuracy: float, gains: int = 0, losses: int = 0,
                    seed: int = 0) -> tuple[list[int], list[int]]:
    """Return ``(baseline, candidate)`` 0/1 outcomes over ``n`` items, shuffled by ``seed``.

    Args:
        n: items.
        accuracy: the baseline's share of right answers.
        gains: items the candidate gets right and the baseline wrong.
        losses: items the candidate gets wrong and the baseline right.
        seed: the shuffle (the order of items does not change any statistic).

    Returns:
        The two outcome lists, aligned by item.
    """
    right = round(accuracy * n)
    assert losses <= right and gains <= n - right
    baseline = [1] * right + [0] * (n - right)
    candidate = [0] * losses + [1] * (right - losses) + [1] * gains + [0] * (n - right - gains)
    order = np.random.default_rng(seed).permutation(n)
    return [baseline[i] for i in order], [candidate[i] for i in order]


def task_result(name: str, scores: list[float], *, metric: str = "acc", filter_name: str = "none",
                higher_is_better: bool | None = True, data_sha256: str = DATA_SHA, prompt_sha256: str = PROMPT_SHA,
                limit: int | None = None, extra_metrics: list[Metric] | None = None) -> TaskResult:
    """A task result whose metric value is the mean of ``scores``."""
    values = np.asarray(scores, dtype=float)
    stderr = float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else None
    return TaskResult(
        name=name, version="1.0", output_type="multiple_choice", data_sha256=data_sha256,
        prompt_sha256=prompt_sha256,
        settings=TaskSettings(num_fewshot=0, limit=limit, seed=1234, apply_chat_template=False),
        metrics=[Metric(name=metric, filter=filter_name, value=float(values.mean()), stderr=stderr, n=values.size,
                        higher_is_better=higher_is_better), *(extra_metrics or [])],
        seconds=0.0,
    )


def item_rows(name: str, scores: list[float], *, metric: str = "acc", filter_name: str = "none") -> list[dict[str, Any]]:
    """``items.jsonl`` rows for one task metric; ``correct`` is set for 0/1 scores, as evalkit score does."""
    return [{"task": name, "item_id": f"{name[:4]}-{index:05d}", "doc_id": index, "metric": metric,
             "filter": filter_name, "prediction": None, "target": None, "score": float(score),
             "correct": bool(score) if score in (0, 1) else None, "logprobs": None}
            for index, score in enumerate(scores)]


def write_run(folder: Path, results: list[TaskResult], rows: list[dict[str, Any]], *, run_id: str | None = None,
              spec: str = "synthetic-model", seed_metrics: SeedMetrics | None = None,
              safety: SafetySection | None = None) -> Path:
    """Write ``scorecard.json`` and ``items.jsonl`` into ``folder`` and return the scorecard path."""
    folder.mkdir(parents=True, exist_ok=True)
    scorecard = Scorecard(
        run_id=run_id or folder.name, created_at=datetime(2025, 1, 1, tzinfo=UTC), suite=None,
        checkpoint=CheckpointInfo(spec=spec, kind="hf_dir", fingerprint="sha256:" + "0" * 64, dtype="float32",
                                  backend="hf"),
        environment=Environment(python="3.11", platform="test", device="cpu", torch_threads=1, packages={}),
        tasks=results, seed_metrics=seed_metrics or SeedMetrics(), safety=safety, timings={"total": 0.0},
        items_path=str(folder / "items.jsonl"),
    )
    write_items(folder / "items.jsonl", rows)
    scorecard.save(folder / "scorecard.json")
    return folder / "scorecard.json"


def write_binary_run(folder: Path, outcomes: list[int], *, task: str = TASK, **task_options: Any) -> Path:
    """A run with one task whose ``acc`` is the given 0/1 outcomes."""
    return write_run(folder, [task_result(task, outcomes, **task_options)], item_rows(task, outcomes))


def seed_metrics(task: str = TASK) -> SeedMetrics:
    """Seed metrics with one perplexity source, one prompt perplexity and one factuality entry."""
    def perplexity(source: str, value: float) -> Perplexity:
        return Perplexity(source=source, n=5, tokens=100, bytes=400, cross_entropy=float(np.log(value)),
                          cross_entropy_stderr=0.1, token_perplexity=value, byte_perplexity=2.0, bits_per_byte=1.0)

    return SeedMetrics(perplexity=[perplexity("wiki.jsonl", 21.5)],
                       prompt_perplexity=[perplexity(f"prompts:{task}", 40.0)],
                       factuality=[Factuality(task="evalkit_truthfulqa_mc2", metric="acc", value=0.41, stderr=0.05,
                                              n=64)])


def test_synthetic_outcomes_have_the_requested_accuracy_and_disagreements() -> None:
    baseline, candidate = paired_outcomes(1000, accuracy=0.6, gains=100, losses=100)
    pairs = list(zip(baseline, candidate, strict=True))
    assert sum(baseline) == sum(candidate) == 600
    assert pairs.count((0, 1)) == 100 and pairs.count((1, 0)) == 100


def test_synthetic_run_is_a_valid_scorecard_whose_items_reproduce_its_value(tmp_path: Path) -> None:
    outcomes = paired_outcomes(50, accuracy=0.4)[0]
    run = load_run(str(write_binary_run(tmp_path / "run", outcomes)))
    rows = read_items(run.items_path)
    assert run.scorecard.metric(TASK, "acc").value == sum(row["score"] for row in rows) / len(rows) == 0.4
    assert run.scorecard.metric(TASK, "acc").n == len(rows) == 50
