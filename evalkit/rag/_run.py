"""Score RAG samples into the Scorecard's ``rag`` section and ``items.jsonl`` rows: choose the metrics, load the
judge when one is needed, evaluate, summarise."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evalkit.checkpoints import Checkpoint, LoadedModel, resolve
from evalkit.embeddings import embedder_path
from evalkit.hashing import json_sha256
from evalkit.rag._context import MetricContext
from evalkit.rag._embeddings import EvalkitEmbeddings
from evalkit.rag._evaluate import as_task_metric, evaluate, item_rows, summarize
from evalkit.rag._judge import DEFAULT_JUDGE, Judge, load_judge
from evalkit.rag._registry import METRICS, MetricSpec, select_metrics
from evalkit.rag._samples import RagSample
from evalkit.rag._settings import RagSettings
from evalkit.scorecard import RagMetric, RagRowProblem, RagSection, TaskResult, TaskSettings

Notify = Callable[[str], None]
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class RagTask:
    """What is being scored.

    Attributes:
        name: the task name in the scorecard and ``items.jsonl`` (``rag_bundled`` or ``rag_traces``).
        source: ``bundled`` or the traces file.
        data_sha256: the hash of what the samples ask (not of the answers), so two systems are comparable.
        output_type: ``generate_until`` (the checkpoint answered) or ``traces``.
        seed: recorded in the task settings.
        apply_chat_template: whether the answers were generated inside the chat template.
        retrieval: the bundled task's retrieval settings.
        generation: the bundled task's decoding settings.
    """

    name: str
    source: str
    data_sha256: str
    output_type: str
    seed: int = 0
    apply_chat_template: bool = False
    retrieval: dict[str, Any] | None = None
    generation: dict[str, Any] | None = None


def check_settings(settings: RagSettings) -> None:
    """Check the embedder and resolve the judge a run may need, so that a missing folder or an endpoint that does
    not answer fails here, before anything is scored or recorded.

    Args:
        settings: the run's settings.
    """
    embedder_path(settings.embedder)
    names = settings.metrics or []
    if settings.judge is not None or any(METRICS[name].uses_judge for name in names):
        resolve(settings.judge or DEFAULT_JUDGE)


def _needs_judge(specs: list[MetricSpec], settings: RagSettings) -> bool:
    return any(spec.uses_judge for spec in specs) or (settings.judge is not None and
                                                      any(spec.judge_check for spec in specs))


def score_samples(samples: list[RagSample], settings: RagSettings, task: RagTask, *,
                  loaded: tuple[Checkpoint, LoadedModel] | None = None, notify: Notify = lambda message: None,
                  progress: Progress | None = None) -> tuple[RagSection, list[dict[str, Any]]]:
    """Compute the RAG metrics of samples.

    Args:
        samples: the items.
        settings: metrics, judge, embedder and thresholds.
        task: what is being scored.
        loaded: a checkpoint already loaded in this process, reused when it is also the judge.
        notify: called with short status messages.
        progress: called as ``progress(done, total, metric)`` after each item of each metric.

    Returns:
        The ``rag`` section and the item rows.
    """
    specs = select_metrics(settings.metrics, samples, with_judge=settings.judge is not None)
    judge: Judge | None = None
    if _needs_judge(specs, settings):
        spec = settings.judge or DEFAULT_JUDGE
        notify(f"rag: loading the judge {spec}")
        judge = load_judge(spec, max_new_tokens=settings.judge_max_new_tokens, batch_size=settings.judge_batch_size,
                           loaded=loaded)
    notify(f"rag: loading the embedder {settings.embedder}")
    context = MetricContext(embeddings=EvalkitEmbeddings(settings.embedder), judge=judge,
                            attribution_threshold=settings.attribution_threshold,
                            attribution_judge=settings.judge is not None)
    total, done = len(specs) * len(samples), 0

    def advance(metric: str) -> None:
        nonlocal done
        done += 1
        notify(f"rag: {metric} ({done}/{total})")
        if progress:
            progress(done, total, metric)

    begun = time.perf_counter()
    outcomes = evaluate(samples, specs, context, concurrency=settings.judge_batch_size, advance=advance)
    metrics = [summarize(outcome, max_judge_failure_rate=settings.max_judge_failure_rate) for outcome in outcomes]
    section = RagSection(
        source=task.source, items=len(samples), judge=judge.spec if judge else None,
        judge_fingerprint=judge.fingerprint if judge else None, embedder=settings.embedder,
        settings={"attribution_threshold": settings.attribution_threshold,
                  "attribution_judge": context.attribution_judge,
                  "max_judge_failure_rate": settings.max_judge_failure_rate,
                  "judge_max_new_tokens": settings.judge_max_new_tokens,
                  "judge_batch_size": settings.judge_batch_size},
        retrieval=task.retrieval, generation=task.generation, metrics=metrics, problems=row_problems(samples, specs),
        tasks=[_task_result(task, settings, metrics, judge, time.perf_counter() - begun)])
    return section, item_rows(task.name, outcomes)


def row_problems(samples: list[RagSample], specs: list[MetricSpec]) -> list[RagRowProblem]:
    """The recoverable problems of each sample for the selected metrics, in sample order.

    Args:
        samples: the items.
        specs: the metrics.

    Returns:
        One entry per (sample, problem).
    """
    needs = {spec.name: spec.needs for spec in specs}
    return [RagRowProblem(line=sample.line, id=sample.id, problem=problem, metrics=metrics)
            for sample in samples for problem, metrics in sample.problems(needs).items()]


def _task_result(task: RagTask, settings: RagSettings, metrics: list[RagMetric], judge: Judge | None,
                 seconds: float) -> TaskResult:
    how = {"settings": settings.model_dump(exclude={"limit", "metrics", "judge_batch_size"}),
           "retrieval": task.retrieval, "judge": judge.fingerprint if judge else None}
    gen_kwargs = {"max_gen_toks": settings.max_new_tokens} if task.generation else None
    return TaskResult(name=task.name, version="1", output_type=task.output_type, data_sha256=task.data_sha256,
                      prompt_sha256=json_sha256(how),
                      settings=TaskSettings(num_fewshot=0, limit=settings.limit, seed=task.seed,
                                            apply_chat_template=task.apply_chat_template, gen_kwargs=gen_kwargs),
                      metrics=[as_task_metric(metric) for metric in metrics], seconds=round(seconds, 3))
