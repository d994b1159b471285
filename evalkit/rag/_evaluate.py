"""Run metrics over samples. Each item of each metric is scored, skipped (inputs missing, or the metric is
undefined for it) or a judge failure (the judge's output did not parse); only scored items enter the value, and the
other two are counted. Summaries carry value, stderr and n; every item becomes an ``items.jsonl`` row."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from evalkit.rag._context import ItemScore, MetricContext, NotApplicable
from evalkit.rag._errors import JudgeOutputError
from evalkit.rag._registry import MetricSpec
from evalkit.rag._samples import RagSample
from evalkit.scorecard import Metric, RagMetric

Advance = Callable[[str], None]


@dataclass(frozen=True)
class Excluded:
    """An item left out of a metric's value, and why."""

    index: int
    sample: RagSample
    status: Literal["skipped", "judge_failure"]
    reason: str


@dataclass
class MetricOutcome:
    """One metric over all samples."""

    spec: MetricSpec
    judged: bool
    scored: list[tuple[int, RagSample, ItemScore]] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    judge_calls: int = 0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """Items excluded with ``status`` (``skipped`` or ``judge_failure``)."""
        return sum(item.status == status for item in self.excluded)


async def _score_item(spec: MetricSpec, sample: RagSample, context: MetricContext, judged: bool) \
        -> ItemScore | tuple[Literal["skipped", "judge_failure"], str]:
    missing = sample.missing(spec.needs)
    if missing:
        return "skipped", missing
    try:
        score = await spec.scorer(sample, context)
    except NotApplicable as reason:
        return "skipped", str(reason)
    except JudgeOutputError as error:
        return "judge_failure", str(error)
    if not math.isfinite(score.value):
        # ragas returns NaN when the judge's output held nothing to score (e.g. no statements extracted)
        return ("judge_failure", "the judge's output gave no value (NaN)") if judged else ("skipped", "undefined (NaN)")
    return score


async def _score_metric(spec: MetricSpec, samples: list[RagSample], context: MetricContext, concurrency: int,
                        advance: Advance) -> MetricOutcome:
    judged = spec.uses_judge or (spec.judge_check and context.attribution_judge)
    outcome = MetricOutcome(spec, judged)
    calls, begun = context.judge_calls(), time.perf_counter()
    slots = asyncio.Semaphore(concurrency)

    async def one(sample: RagSample) -> ItemScore | tuple[Literal["skipped", "judge_failure"], str]:
        async with slots:
            result = await _score_item(spec, sample, context, judged)
        advance(spec.name)
        return result

    results = await asyncio.gather(*(one(sample) for sample in samples))
    for index, (sample, result) in enumerate(zip(samples, results, strict=True)):
        if isinstance(result, ItemScore):
            outcome.scored.append((index, sample, result))
        else:
            outcome.excluded.append(Excluded(index, sample, *result))
    outcome.judge_calls = context.judge_calls() - calls
    outcome.seconds = round(time.perf_counter() - begun, 3)
    return outcome


def evaluate(samples: list[RagSample], specs: list[MetricSpec], context: MetricContext, *, concurrency: int,
             advance: Advance = lambda name: None) -> list[MetricOutcome]:
    """Score every sample on every metric, metric after metric, up to ``concurrency`` items of a metric at once
    (their judge calls are batched by a local judge, or sent side by side to an endpoint).

    Args:
        samples: the items.
        specs: the metrics.
        context: the run's embeddings, judge and thresholds.
        concurrency: items of one metric in flight at once (the run's ``judge_batch_size``).
        advance: called with the metric name after each item.

    Returns:
        One outcome per metric, in order.
    """
    async def run_all() -> list[MetricOutcome]:
        return [await _score_metric(spec, samples, context, concurrency, advance) for spec in specs]

    return asyncio.run(run_all())


def _mean_and_stderr(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    variance = sum((value - mean) ** 2 for value in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


def summarize(outcome: MetricOutcome, *, max_judge_failure_rate: float) -> RagMetric:
    """The scorecard entry of one metric.

    Args:
        outcome: the metric's outcome.
        max_judge_failure_rate: above this share of judge failures the metric is marked unreliable.

    Returns:
        The :class:`RagMetric`.
    """
    value, stderr = _mean_and_stderr([score.value for _, _, score in outcome.scored])
    failures, n = outcome.count("judge_failure"), len(outcome.scored)
    rate = failures / (n + failures) if outcome.judged and n + failures else None
    return RagMetric(name=outcome.spec.name, family=outcome.spec.family, value=value, stderr=stderr, n=n,
                     skipped=outcome.count("skipped"), judge_calls=outcome.judge_calls, judge_failures=failures,
                     judge_failure_rate=rate, reliable=n > 0 and (rate is None or rate <= max_judge_failure_rate),
                     seconds=outcome.seconds)


def as_task_metric(metric: RagMetric) -> Metric:
    """A RAG metric as a task metric (filter ``none``), which relative checks pair through ``items.jsonl``."""
    return Metric(name=metric.name, filter="none", value=metric.value, stderr=metric.stderr, n=metric.n,
                  higher_is_better=metric.higher_is_better)


def item_rows(task: str, outcomes: list[MetricOutcome]) -> list[dict[str, Any]]:
    """One ``items.jsonl`` row per item and metric: scored items under filter ``none`` (their mean is the value),
    skipped items and judge failures under filter ``excluded`` with ``score`` null and the reason.

    Args:
        task: the task name the rows carry.
        outcomes: the metrics' outcomes.

    Returns:
        The rows.
    """
    rows = []
    for outcome in outcomes:
        for index, sample, score in outcome.scored:
            rows.append(_row(task, outcome.spec.name, index, sample, "none", score.value,
                             {"status": "scored", "details": score.details}))
        for item in outcome.excluded:
            rows.append(_row(task, outcome.spec.name, item.index, item.sample, "excluded", None,
                             {"status": item.status, "reason": item.reason}))
    return rows


def _row(task: str, metric: str, index: int, sample: RagSample, filter_name: str, score: float | None,
         extra: dict[str, Any]) -> dict[str, Any]:
    return {"task": task, "item_id": sample.id, "doc_id": index, "metric": metric, "filter": filter_name,
            "prediction": sample.answer, "target": sample.reference, "score": score, "correct": None,
            "question": sample.question, "chunk_ids": sample.retrieved_ids, **extra}
