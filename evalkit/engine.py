"""Run one lm-eval task on a loaded model and turn lm-eval's output into a :class:`TaskResult` and item rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evalkit.hashing import json_sha256
from evalkit.items import item_id, sample_rows
from evalkit.scorecard import Metric, TaskResult, TaskSettings

if TYPE_CHECKING:
    from lm_eval.api.model import LM
    from lm_eval.api.task import Task
    from lm_eval.tasks import TaskManager

PROMPT_CONFIG_KEYS = (
    "output_type", "description", "doc_to_text", "doc_to_target", "doc_to_choice", "target_delimiter",
    "fewshot_delimiter", "fewshot_config", "fewshot_split", "process_docs", "process_results", "metric_list",
    "filter_list", "generation_kwargs", "use_prompt", "should_decontaminate", "repeats", "gen_prefix",
)


@dataclass
class TaskRun:
    """What one task produced: its result, item rows, and the texts that seed metrics are computed on.

    ``generations`` holds ``(item id, prompt, generated text)`` for generation tasks.
    """

    result: TaskResult
    items: list[dict[str, Any]]
    prompts: list[str] = field(default_factory=list)
    generations: list[tuple[str, str, str]] = field(default_factory=list)


def data_sha256(task: Task) -> str:
    """Hash the documents a task evaluates on (before any ``--limit``)."""
    return json_sha256([dict(doc) for doc in task.eval_docs])


def prompt_sha256(task: Task) -> str:
    """Hash the parts of a task's config that shape prompts, targets and metrics (functions by their source)."""
    config = task.dump_config()
    return json_sha256({key: config.get(key) for key in PROMPT_CONFIG_KEYS})


def effective_fewshot(task: Task, requested: int | None) -> int:
    """Return the number of shots a task runs with: the requested number, else the task's default."""
    if requested is not None:
        return requested
    return int(task.get_config("num_fewshot") or 0)


def _metrics(task_name: str, results: dict[str, Any]) -> list[Metric]:
    values = results["results"][task_name]
    higher = results.get("higher_is_better", {}).get(task_name, {})
    n = int(results["n-samples"][task_name]["effective"])
    metrics = []
    for key, value in values.items():
        if "," not in key or "_stderr," in key:
            continue
        name, filter_name = key.split(",", 1)
        stderr = values.get(f"{name}_stderr,{filter_name}")
        metrics.append(Metric(
            name=name, filter=filter_name, value=float_or_none(value),
            stderr=float_or_none(stderr), n=n, higher_is_better=higher.get(name),
        ))
    return metrics


def float_or_none(value: Any) -> float | None:
    """Return ``value`` as a float, or ``None`` for lm-eval's ``"N/A"`` and other non-numbers."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@contextmanager
def _without_lm_eval_environment() -> Iterator[None]:
    """Skip lm-eval's environment capture inside ``simple_evaluate``: it runs torch's ``collect_env`` (subprocesses
    for pip, conda and GPU tools, about 0.5 s) on every call, that is once per task here, and evalkit reads nothing
    of it; the scorecard records the environment once per run (:mod:`evalkit.environment`)."""
    import lm_eval.evaluator

    capture = lm_eval.evaluator.add_env_info
    lm_eval.evaluator.add_env_info = lambda storage: None
    try:
        yield
    finally:
        lm_eval.evaluator.add_env_info = capture


def run_task(lm: LM, task: Task, manager: TaskManager, settings: TaskSettings, *,
             bootstrap_iters: int, hashes: tuple[str, str]) -> TaskRun:
    """Evaluate one leaf task with lm-eval and collect its result, items, prompts and generations.

    Args:
        lm: the lm-eval model.
        task: a leaf task from :func:`evalkit.tasks_resolve.load_tasks`.
        manager: the task manager the task came from.
        settings: shots, limit, seed and chat-template use.
        bootstrap_iters: bootstrap resamples for stderr of non-mean metrics.
        hashes: ``(data_sha256, prompt_sha256)`` computed before the run.

    Returns:
        The :class:`TaskRun`.
    """
    from lm_eval import simple_evaluate

    name = task.config.task
    started = time.perf_counter()
    with _without_lm_eval_environment():
        results = simple_evaluate(
            model=lm, tasks=[task], task_manager=manager, num_fewshot=settings.num_fewshot, limit=settings.limit,
            bootstrap_iters=bootstrap_iters, log_samples=True, apply_chat_template=settings.apply_chat_template,
            fewshot_as_multiturn=settings.fewshot_as_multiturn, random_seed=settings.seed,
            numpy_random_seed=settings.seed, torch_random_seed=settings.seed, fewshot_random_seed=settings.seed,
            gen_kwargs=dict(settings.gen_kwargs) if settings.gen_kwargs else None,
        )
    samples = results["samples"][name]
    result = TaskResult(
        name=name, version=str(results["versions"].get(name)), output_type=task.get_config("output_type"),
        data_sha256=hashes[0], prompt_sha256=hashes[1], settings=settings, metrics=_metrics(name, results),
        seconds=round(time.perf_counter() - started, 3),
    )
    items = [row for sample in samples for row in sample_rows(name, sample)]
    first_filter = samples[0].get("filter") if samples else None
    primary = [sample for sample in samples if sample.get("filter") == first_filter]
    prompts = [sample["arguments"][0][0] for sample in primary]
    generations = []
    if result.output_type == "generate_until":
        generations = [(item_id(sample["doc"]), sample["arguments"][0][0], sample["resps"][0][0])
                       for sample in primary]
    return TaskRun(result=result, items=items, prompts=prompts, generations=generations)
