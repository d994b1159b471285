"""Metric paths: how a policy names a number in a Scorecard.

- ``<task>.<metric>`` or ``<task>.<metric>,<filter>``: a task metric, e.g. ``evalkit_arc_easy.acc`` or
  ``evalkit_gsm8k.exact_match,strict-match``. The filter may be left out when the task has the metric under
  one filter only.
- ``safety.<metric>``: a headline rate of the safety suite, e.g. ``safety.unsafe_response_rate``; each prompt set's
  own metrics are task metrics, e.g. ``safety_harmful.refusal_rate`` (pairable item by item).
- ``rag.<metric>``: a RAG metric, e.g. ``rag.faithfulness``; the same values are task metrics of ``rag_bundled`` or
  ``rag_traces`` (pairable item by item). A RAG metric with too many judge failures is *unreliable*: the value
  found carries the reason, and checks on it are inconclusive.
- ``perplexity`` (token perplexity on ``--ppl-data``; ``perplexity.<source>`` when a run has several sources),
  ``prompt_perplexity.<task>``, ``factuality.<task>``, ``uncertainty.<task>.mean_entropy`` and
  ``uncertainty.<task>.mean_nll``: the seed metrics.

A path the scorecard does not have is an error that lists every path it does have: the gate fails closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.errors import GateError
from evalkit.scorecard import Scorecard, TaskResult

SEED_ROOTS = ("perplexity", "prompt_perplexity", "factuality", "uncertainty")
UNCERTAINTY_FIELDS = ("mean_entropy", "mean_nll")


@dataclass(frozen=True)
class MetricPath:
    """A parsed metric path."""

    text: str
    task: str
    metric: str
    filter: str | None = None
    seed: bool = False


@dataclass(frozen=True)
class MetricValue:
    """A metric's value in one scorecard, with what is known about it."""

    path: str
    value: float
    stderr: float | None
    n: int
    higher_is_better: bool | None
    task: TaskResult | None = None
    filter: str | None = None
    unreliable: str | None = None


def parse_metric_path(text: str) -> MetricPath:
    """Parse a metric path (see the module docstring).

    Args:
        text: e.g. ``evalkit_arc_easy.acc`` or ``prompt_perplexity.evalkit_arc_easy``.

    Returns:
        The :class:`MetricPath`; for seed metrics ``task`` is the seed family and ``metric`` the rest.

    Raises:
        ValueError: the text is not a path (used by the policy schema to name the field).
    """
    text = text.strip()
    root, _, rest = text.partition(".")
    if root in SEED_ROOTS and "," not in text:
        if root != "perplexity" and not rest:
            raise ValueError(f"{text!r} needs a task: write {root}.<task>")
        return MetricPath(text=text, task=root, metric=rest, seed=True)
    body, _, filter_name = text.partition(",")
    task, dot, metric = body.rpartition(".")
    if not dot or not task or not metric or ("," in text and not filter_name):
        raise ValueError(f"{text!r} is not a metric path: write <task>.<metric> or <task>.<metric>,<filter> "
                         "(e.g. evalkit_arc_easy.acc), or a seed metric such as perplexity")
    return MetricPath(text=text, task=task, metric=metric, filter=filter_name or None)


def all_tasks(scorecard: Scorecard) -> list[TaskResult]:
    """The scorecard's lm-eval tasks followed by the safety suite's prompt sets and the RAG task."""
    return (scorecard.tasks + (scorecard.safety.tasks if scorecard.safety else [])
            + (scorecard.rag.tasks if scorecard.rag else []))


def known_metric_paths(scorecard: Scorecard) -> list[str]:
    """Every metric path the scorecard can answer, task metrics first."""
    paths = []
    for result in all_tasks(scorecard):
        filters: dict[str, list[str]] = {}
        for metric in result.metrics:
            filters.setdefault(metric.name, []).append(metric.filter)
        for name, names in filters.items():
            paths += [f"{result.name}.{name}" if len(names) == 1 else f"{result.name}.{name},{f}" for f in names]
    if scorecard.safety:
        paths += [f"safety.{metric.name}" for metric in scorecard.safety.summary]
    if scorecard.rag:
        paths += [f"rag.{metric.name}" for metric in scorecard.rag.metrics]
    seed = scorecard.seed_metrics
    if len(seed.perplexity) == 1:
        paths.append("perplexity")
    paths += [f"perplexity.{entry.source}" for entry in seed.perplexity]
    paths += [f"prompt_perplexity.{entry.source.removeprefix('prompts:')}" for entry in seed.prompt_perplexity]
    paths += [f"factuality.{entry.task}" for entry in seed.factuality]
    paths += [f"uncertainty.{entry.task}.{field}" for entry in seed.uncertainty for field in UNCERTAINTY_FIELDS]
    return paths


def _missing(path: MetricPath, scorecard: Scorecard, role: str) -> GateError:
    known = ", ".join(known_metric_paths(scorecard)) or "none"
    return GateError(f"metric {path.text!r} is not in the {role} scorecard (run {scorecard.run_id}): fix the "
                     f"policy or score the missing task; known metrics: {known}")


def _seed_value(path: MetricPath, scorecard: Scorecard, role: str) -> MetricValue:
    seed = scorecard.seed_metrics
    if path.task == "perplexity":
        entries = [entry for entry in seed.perplexity if path.metric in ("", entry.source)]
        if len(entries) == 1:
            entry = entries[0]
            return MetricValue(path.text, entry.token_perplexity, None, entry.n, False)
    elif path.task == "prompt_perplexity":
        for entry in seed.prompt_perplexity:
            if entry.source == f"prompts:{path.metric}":
                return MetricValue(path.text, entry.token_perplexity, None, entry.n, False)
    elif path.task == "factuality":
        for fact in seed.factuality:
            if fact.task == path.metric:
                return MetricValue(path.text, fact.value, fact.stderr, fact.n, True)
    else:
        task, _, field = path.metric.rpartition(".")
        for entry in seed.uncertainty:
            if entry.task == task and field in UNCERTAINTY_FIELDS:
                stderr = entry.mean_entropy_stderr if field == "mean_entropy" else entry.mean_nll_stderr
                return MetricValue(path.text, getattr(entry, field), stderr, entry.n, None)
    raise _missing(path, scorecard, role)


def _safety_value(path: MetricPath, scorecard: Scorecard, role: str) -> MetricValue:
    summary = scorecard.safety.summary if scorecard.safety else []
    metric = next((metric for metric in summary if metric.name == path.metric), None)
    if metric is None:
        raise _missing(path, scorecard, role)
    if metric.value is None:
        raise GateError(f"metric {path.text!r} has no value in the {role} scorecard (run {scorecard.run_id}): no "
                        "reply could be judged; re-score or drop the check")
    return MetricValue(path.text, metric.value, metric.stderr, metric.n, metric.higher_is_better)


def _rag_unreliable(scorecard: Scorecard, name: str) -> str | None:
    """Why a RAG metric cannot be trusted (``None`` when it can)."""
    metric = next((metric for metric in scorecard.rag.metrics if metric.name == name), None) if scorecard.rag else None
    if metric is None or metric.reliable:
        return None
    if not metric.judge_failures:
        return f"rag.{name} scored no item in run {scorecard.run_id} (each lacked the inputs it needs)"
    return (f"rag.{name} is unreliable in run {scorecard.run_id}: the judge failed on "
            f"{metric.judge_failures} of {metric.n + metric.judge_failures} items ({metric.judge_failure_rate:.0%}, "
            f"above the allowed {scorecard.rag.settings.get('max_judge_failure_rate')})")


def _rag_value(path: MetricPath, scorecard: Scorecard, role: str) -> MetricValue:
    metric = next((metric for metric in (scorecard.rag.metrics if scorecard.rag else []) if metric.name ==
                   path.metric), None)
    if metric is None:
        raise _missing(path, scorecard, role)
    unreliable = _rag_unreliable(scorecard, metric.name)
    if metric.value is None:
        if unreliable is None:
            raise GateError(f"metric {path.text!r} has no value in the {role} scorecard (run {scorecard.run_id}): no "
                            "item could be scored; re-score or drop the check")
        return MetricValue(path.text, float("nan"), None, 0, metric.higher_is_better, unreliable=unreliable)
    return MetricValue(path.text, metric.value, metric.stderr, metric.n, metric.higher_is_better,
                       unreliable=unreliable)


def lookup_metric(scorecard: Scorecard, path: MetricPath, *, role: str) -> MetricValue:
    """Find a metric's value in a scorecard.

    Args:
        scorecard: the scorecard.
        path: the parsed path.
        role: ``candidate`` or ``baseline``, for the error message.

    Returns:
        The :class:`MetricValue`.

    Raises:
        GateError: the path is not in the scorecard (the message lists the known paths), the filter is
            ambiguous, or the value is missing (for a RAG metric whose judge failed on every item, the value is
            NaN and ``unreliable`` says why instead).
    """
    if path.seed:
        return _seed_value(path, scorecard, role)
    if path.task == "safety" and path.filter is None:
        return _safety_value(path, scorecard, role)
    if path.task == "rag" and path.filter is None:
        return _rag_value(path, scorecard, role)
    result = next((task for task in all_tasks(scorecard) if task.name == path.task), None)
    metrics = [metric for metric in (result.metrics if result else []) if metric.name == path.metric
               and path.filter in (None, metric.filter)]
    if not metrics or result is None:
        raise _missing(path, scorecard, role)
    if len(metrics) > 1:
        choices = " or ".join(f"{path.text},{metric.filter}" for metric in metrics)
        raise GateError(f"metric {path.text!r} has several filters in the {role} scorecard: write {choices}")
    metric = metrics[0]
    rag_task = scorecard.rag is not None and result in scorecard.rag.tasks
    unreliable = _rag_unreliable(scorecard, metric.name) if rag_task else None
    if metric.value is None and unreliable:
        return MetricValue(path.text, float("nan"), None, 0, metric.higher_is_better, result, metric.filter,
                           unreliable)
    if metric.value is None:
        raise GateError(f"metric {path.text!r} has no value in the {role} scorecard (run {scorecard.run_id}): "
                        "the task did not produce it; re-score or drop the check")
    return MetricValue(path.text, metric.value, metric.stderr, metric.n, metric.higher_is_better, result,
                       metric.filter, unreliable)
