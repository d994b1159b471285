"""``evalkit score``: validate everything, load the model only if some task is not cached, run the tasks,
and write the scorecard, items and reports into the run store."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit import cache, report, seed_metrics, store
from evalkit.atomic import write_bytes_atomic, write_text_atomic
from evalkit.checkpoints import Checkpoint, LoadedModel, load, resolve
from evalkit.engine import TaskRun, data_sha256, effective_fewshot, prompt_sha256, run_task
from evalkit.environment import capture_environment
from evalkit.errors import SettingsError
from evalkit.groups import aggregate_groups
from evalkit.hashing import json_sha256
from evalkit.items import write_items
from evalkit.quiet import quiet_libraries
from evalkit.rag import RagSettings
from evalkit.scorecard import CheckpointInfo, RagSection, Scorecard, SeedMetrics, TaskSettings
from evalkit.suites import SuiteEntry
from evalkit.tasks_resolve import build_task_manager, load_all
from guards import guard_entry, parse_guard_option
from guards.safety import SafetySettings, run_safety

Notify = Callable[[str], None]


@dataclass
class ScoreOptions:
    """Options of ``evalkit score``; names follow lm-eval's CLI. ``None`` keeps each task's (or suite's) value."""

    limit: int | None = None
    num_fewshot: int | None = None
    batch_size: int | str = 8
    device: str | None = None
    dtype: str = "auto"
    apply_chat_template: bool = False
    seed: int = 1234
    use_cache: bool = True
    bootstrap_iters: int = 1000
    ppl_data: Path | None = None
    backend: str = "evalkit-prefix"
    prompt_ppl_sample: int = 10


@dataclass
class _Planned:
    entry: SuiteEntry
    task: Any
    settings: TaskSettings
    hashes: tuple[str, str]
    cached: cache.CachedTask | None = None
    key: str = ""


@dataclass
class _Collected:
    results: list = field(default_factory=list)
    items: list = field(default_factory=list)
    prompt_ppl: list = field(default_factory=list)
    uncertainty: list = field(default_factory=list)
    fresh: list = field(default_factory=list)


def validate_options(options: ScoreOptions) -> None:
    """Reject option values outside their range before anything runs."""
    if options.limit is not None and options.limit <= 0:
        raise SettingsError(f"--limit {options.limit} is not positive: give a number of items >= 1")
    if options.num_fewshot is not None and options.num_fewshot < 0:
        raise SettingsError(f"--num-fewshot {options.num_fewshot} is negative: give 0 or more")
    if isinstance(options.batch_size, int) and options.batch_size <= 0:
        raise SettingsError(f"--batch-size {options.batch_size} is not positive: give an int >= 1 or 'auto'")
    if options.device is not None:
        _check_device(options.device)
    if options.prompt_ppl_sample < 0:
        raise SettingsError("--prompt-ppl-sample must be 0 (off) or more")
    if options.bootstrap_iters < 0:
        raise SettingsError("--bootstrap-iters must be 0 or more")


def _dtype_for_key(checkpoint: Checkpoint, options: ScoreOptions) -> str:
    if checkpoint.kind == "openai":
        return "remote"
    from evalkit.checkpoints._load import default_device, resolve_dtype

    return resolve_dtype(options.dtype, options.device or default_device())


def _check_device(device: str) -> None:
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise SettingsError(f"--device {device!r} is not a torch device: use cpu, cuda or cuda:N") from error
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError(f"--device {device}: no CUDA GPU is visible here; use --device cpu")


def _device_type(options: ScoreOptions) -> str:
    from evalkit.checkpoints._load import default_device

    return (options.device or default_device()).split(":", 1)[0]


def _backend_name(checkpoint: Checkpoint, options: ScoreOptions) -> str:
    return "openai" if checkpoint.kind == "openai" else options.backend


def _plan(entries: list[SuiteEntry], options: ScoreOptions, checkpoint: Checkpoint,
          chat_template_sha: str | None) -> tuple[list[_Planned], Any, dict[str, Any]]:
    manager = build_task_manager([entry.task for entry in entries])
    runtime = (f"{_dtype_for_key(checkpoint, options)}/{_backend_name(checkpoint, options)}/{_device_type(options)}"
               f"/bootstrap={options.bootstrap_iters}/prompt-ppl={options.prompt_ppl_sample}")
    use_cache = options.use_cache and checkpoint.kind != "openai"
    planned, groups = [], {}
    for entry, loaded in zip(entries, load_all([entry.task for entry in entries], manager), strict=True):
        groups.update(loaded.groups)
        for task in loaded.tasks.values():
            settings = TaskSettings(
                num_fewshot=effective_fewshot(task, options.num_fewshot if options.num_fewshot is not None
                                              else entry.num_fewshot),
                limit=options.limit if options.limit is not None else entry.limit, seed=options.seed,
                apply_chat_template=options.apply_chat_template, chat_template_sha256=chat_template_sha,
                fewshot_as_multiturn=options.apply_chat_template, gen_kwargs=entry.gen_kwargs,
            )
            hashes = (data_sha256(task), prompt_sha256(task))
            key = cache.cache_key(checkpoint.fingerprint, runtime, task.config.task, hashes, settings)
            planned.append(_Planned(entry, task, settings, hashes, cache.load_cached(key) if use_cache else None, key))
    return planned, manager, groups


def _chat_template_sha(loaded: LoadedModel | None) -> str | None:
    template = getattr(getattr(loaded, "tokenizer", None), "chat_template", None)
    return json_sha256(template) if template else None


def _run_planned(item: _Planned, loaded: LoadedModel, manager: Any, options: ScoreOptions,
                 run_id: str) -> cache.CachedTask:
    run: TaskRun = run_task(loaded.lm, item.task, manager, item.settings, bootstrap_iters=options.bootstrap_iters,
                            hashes=item.hashes)
    name = run.result.name
    prompt_ppl, rows = None, []
    if options.prompt_ppl_sample and run.prompts:
        sample = seed_metrics.prompt_sample(run.prompts, options.prompt_ppl_sample)
        prompt_ppl, rows = seed_metrics.perplexity(loaded.lm, sample,
                                                   source=f"prompts:{name}")
    uncertainty = None
    if run.generations and loaded.model is not None:
        uncertainty, uncertainty_rows = seed_metrics.generation_uncertainty(loaded.model, loaded.tokenizer, name,
                                                                            run.generations)
        rows += uncertainty_rows
    return cache.CachedTask(run_id=run_id, result=run.result, items=run.items + rows,
                            prompt_perplexity=prompt_ppl, uncertainty=uncertainty)


def score(spec: str, entries: list[SuiteEntry], options: ScoreOptions, *, suite: str | None = None,
          safety: SafetySettings | None = None, rag: RagSettings | None = None,
          notify: Notify = lambda message: None,
          progress: Callable[[int, int, str], None] | None = None) -> Scorecard:
    """Score a checkpoint on tasks and record the run.

    Everything that can be checked without the model (options, checkpoint, tasks, datasets, text files) is
    checked first; nothing enters the run store until the model has loaded.

    Args:
        spec: the checkpoint spec.
        entries: the tasks with their per-task settings.
        options: scoring options.
        suite: the suite name, recorded in the scorecard.
        safety: run the safety suite with these settings (replies generated with the checkpoint's chat template
            when it has one, judged by the settings' guard).
        rag: run the bundled RAG task with these settings (answers generated like the safety replies).
        notify: called with short status messages.
        progress: called as ``progress(done, total, task_name)`` before each task and at the end.

    Returns:
        The saved :class:`Scorecard`.
    """
    started = time.perf_counter()
    validate_options(options)
    texts = seed_metrics.read_texts(options.ppl_data) if options.ppl_data else None
    notify(f"resolving {spec}")
    checkpoint = resolve(spec)
    timings: dict[str, float] = {}
    loaded = None
    if options.apply_chat_template:
        loaded = _load(checkpoint, options, notify, timings)
        if loaded.tokenizer is not None and not getattr(loaded.tokenizer, "chat_template", None):
            raise SettingsError(f"--apply-chat-template: {spec} has no chat template; drop the flag or add a "
                                "chat_template to its tokenizer_config.json")
    notify("loading tasks")
    planned, manager, groups = _plan(entries, options, checkpoint, _chat_template_sha(loaded))
    if safety is not None:
        guard_entry(parse_guard_option(safety.guard)[0])  # an unknown guard fails before anything runs
    if rag is not None:
        from evalkit.rag import check_settings

        check_settings(rag)  # so do an embedder or a judge that cannot be found
    if loaded is None and (texts or safety or rag or any(item.cached is None for item in planned)):
        loaded = _load(checkpoint, options, notify, timings)
    run_id = store.new_run_id(spec)
    folder = store.start_run(run_id, spec, checkpoint.fingerprint, suite)
    try:
        collected = _collect(planned, loaded, manager, options, run_id, timings, progress)
        seeds = SeedMetrics(prompt_perplexity=collected.prompt_ppl, uncertainty=collected.uncertainty,
                            factuality=seed_metrics.factuality(collected.results))
        if texts:
            assert loaded is not None and options.ppl_data is not None
            begun = time.perf_counter()
            summary, rows = seed_metrics.perplexity(loaded.lm, texts, source=options.ppl_data.name)
            seeds.perplexity.append(summary)
            collected.items.extend(rows)
            timings["perplexity"] = round(time.perf_counter() - begun, 3)
        section = None
        if safety is not None:
            assert loaded is not None
            begun = time.perf_counter()
            section, rows = run_safety(loaded.lm, safety, use_chat_template=_has_chat_template(loaded),
                                       seed=options.seed, notify=notify)
            collected.items.extend(rows)
            timings["safety"] = round(time.perf_counter() - begun, 3)
        rag_section = _run_rag(checkpoint, loaded, rag, options, notify, collected, timings) if rag else None
        timings["total"] = round(time.perf_counter() - started, 3)
        scorecard = Scorecard(
            run_id=run_id, created_at=datetime.now(UTC), suite=suite,
            checkpoint=_checkpoint_info(checkpoint, loaded, options),
            environment=capture_environment(loaded.device if loaded else options.device or "cpu"),
            tasks=collected.results, groups=aggregate_groups(groups, collected.results),
            seed_metrics=seeds, safety=section, rag=rag_section, timings=timings,
            options={"batch_size": str(options.batch_size), "device": options.device, "use_cache": options.use_cache,
                     "bootstrap_iters": options.bootstrap_iters}, items_path=str(folder / "items.jsonl"),
        )
        write_run(folder, scorecard, collected.items)
    except BaseException:
        with contextlib.suppress(Exception):  # the original error matters more than the index update
            store.finish_run(run_id, "failed")
        raise
    for key, outcome in collected.fresh:  # cached only once their run is complete, so cached_from resolves
        cache.store_cached(key, outcome)
    store.finish_run(run_id)
    return scorecard


def _run_rag(checkpoint: Checkpoint, loaded: LoadedModel | None, rag: RagSettings, options: ScoreOptions,
             notify: Notify, collected: _Collected, timings: dict[str, float]) -> RagSection:
    from evalkit.rag import run_bundled

    assert loaded is not None
    begun = time.perf_counter()
    section, rows = run_bundled(loaded.lm, rag, use_chat_template=_has_chat_template(loaded), seed=options.seed,
                                loaded=(checkpoint, loaded), notify=notify)
    collected.items.extend(rows)
    timings["rag"] = round(time.perf_counter() - begun, 3)
    return section


def _has_chat_template(loaded: LoadedModel) -> bool:
    return bool(loaded.tokenizer is not None and getattr(loaded.tokenizer, "chat_template", None))


def _load(checkpoint: Checkpoint, options: ScoreOptions, notify: Notify, timings: dict[str, float]) -> LoadedModel:
    note = "; a GGUF is converted on first use, ~30 s" if checkpoint.kind in ("embedded", "gguf") else ""
    notify(f"loading {checkpoint.spec} ({checkpoint.kind}{note})")
    begun = time.perf_counter()
    with quiet_libraries():
        loaded = load(checkpoint, dtype=options.dtype, device=options.device, batch_size=options.batch_size,
                      backend=options.backend)
    timings["load"] = round(time.perf_counter() - begun, 3)
    return loaded


def _collect(planned: list[_Planned], loaded: LoadedModel | None, manager: Any, options: ScoreOptions,
             run_id: str, timings: dict[str, float], progress: Callable[[int, int, str], None] | None) -> _Collected:
    collected = _Collected()
    for index, item in enumerate(planned):
        name = item.task.config.task
        if progress:
            progress(index, len(planned), name)
        if item.cached is not None:
            outcome = item.cached
            outcome.result = outcome.result.model_copy(update={"cached_from": outcome.run_id})
        else:
            assert loaded is not None
            outcome = _run_planned(item, loaded, manager, options, run_id)
            if loaded.backend != "openai":
                collected.fresh.append((item.key, outcome))
        timings[f"task:{name}"] = outcome.result.seconds if item.cached is None else 0.0
        collected.results.append(outcome.result)
        collected.items.extend(outcome.items)
        if outcome.prompt_perplexity:
            collected.prompt_ppl.append(outcome.prompt_perplexity)
        if outcome.uncertainty:
            collected.uncertainty.append(outcome.uncertainty)
    if progress:
        progress(len(planned), len(planned), "done")
    return collected


def _checkpoint_info(checkpoint: Checkpoint, loaded: LoadedModel | None, options: ScoreOptions) -> CheckpointInfo:
    dtype = loaded.dtype if loaded else _dtype_for_key(checkpoint, options)
    backend = loaded.backend if loaded else _backend_name(checkpoint, options)
    return CheckpointInfo(spec=checkpoint.spec, kind=checkpoint.kind, fingerprint=checkpoint.fingerprint,
                          base_fingerprint=checkpoint.base.fingerprint if checkpoint.base else None,
                          dtype=dtype, backend=backend)


def write_run(folder: Path, scorecard: Scorecard, items: list[dict[str, Any]]) -> None:
    """Write a run's items, reports and scorecard (the scorecard last) into its run folder, atomically.

    Args:
        folder: the run folder.
        scorecard: the run's scorecard.
        items: its ``items.jsonl`` rows.
    """
    write_items(folder / "items.jsonl", items)
    png = report.plot_png(scorecard)
    write_bytes_atomic(folder / "scores.png", png)
    write_text_atomic(folder / "report.md", report.to_markdown(scorecard))
    write_text_atomic(folder / "report.html", report.to_html(scorecard, png))
    scorecard.save(folder / "scorecard.json")
