"""``evalkit rag score``: RAG metrics of a traces file, recorded as a run (a Scorecard with a ``rag`` section and
its ``items.jsonl``) that the gate, the report and the dashboard read like any other."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from pathlib import Path

from evalkit import store
from evalkit.checkpoints._fingerprint import file_sha256
from evalkit.environment import capture_environment
from evalkit.rag._registry import select_metrics
from evalkit.rag._run import Notify, Progress, RagTask, check_settings, score_samples
from evalkit.rag._samples import read_traces, task_sha256
from evalkit.rag._settings import RagSettings
from evalkit.scorecard import CheckpointInfo, Scorecard


def score_traces(path: Path, settings: RagSettings, *, label: str | None = None,
                 notify: Notify = lambda message: None, progress: Progress | None = None) -> Scorecard:
    """Score a traces file and store the run.

    Args:
        path: the traces file (see :mod:`evalkit.rag._samples` for its schema).
        settings: metrics, judge, embedder, thresholds; ``limit`` keeps the first N traces.
        label: the name the run is listed under (default ``traces:<file name>``).
        notify: called with short status messages.
        progress: called after each scored item.

    Returns:
        The saved :class:`Scorecard`.
    """
    from evalkit.score import write_run

    started = time.perf_counter()
    samples = read_traces(path)[:settings.limit]
    select_metrics(settings.metrics, samples, with_judge=settings.judge is not None)
    check_settings(settings)
    spec = label or f"traces:{path.name}"
    fingerprint = f"sha256:{file_sha256(path)}"
    run_id = store.new_run_id(spec)
    folder = store.start_run(run_id, spec, fingerprint, None)
    try:
        task = RagTask(name="rag_traces", source=str(path), data_sha256=task_sha256(samples), output_type="traces")
        section, rows = score_samples(samples, settings, task, notify=notify, progress=progress)
        elapsed = round(time.perf_counter() - started, 3)
        scorecard = Scorecard(
            run_id=run_id, created_at=datetime.now(UTC), suite=None,
            checkpoint=CheckpointInfo(spec=spec, kind="traces", fingerprint=fingerprint, dtype="n/a",
                                      backend="traces"),
            environment=capture_environment("cpu"), tasks=[], rag=section,
            timings={"rag": section.tasks[0].seconds, "total": elapsed}, items_path=str(folder / "items.jsonl"))
        write_run(folder, scorecard, rows)
    except BaseException:
        with contextlib.suppress(Exception):  # the original error matters more than the index update
            store.finish_run(run_id, "failed")
        raise
    store.finish_run(run_id)
    return scorecard
