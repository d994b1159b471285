"""``evalkit rag``: RAG metrics of a traces file, recorded as a run; the list of metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

if TYPE_CHECKING:
    from evalkit.rag import RagSettings

rag_app = typer.Typer(help="RAG metrics: score a traces file, list the metrics.", no_args_is_help=True)
console = Console(width=None if Console().is_terminal else 160)
errors = Console(stderr=True)


def _settings(**fields: object) -> RagSettings:
    from evalkit.rag import RagError, RagSettings

    try:
        return RagSettings.model_validate({key: value for key, value in fields.items() if value is not None})
    except ValidationError as error:
        first = error.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "an option"
        raise RagError(f"{option}: {first['msg'].removeprefix('Value error, ')}") from None


@rag_app.command("score")
def score(
    traces: Annotated[Path, typer.Argument(help="JSONL: one trace per line with question, contexts (texts, or "
                                                "{text, chunk_id}), answer, and optionally reference, "
                                                "reference_contexts, reference_chunk_ids, id.")],
    judge: Annotated[str | None, typer.Option(help="Judge checkpoint for the LLM-judge metrics (any evalkit spec, "
                                                   "or openai:MODEL@URL); adds them and checks chunk "
                                                   "attributions.")] = None,
    embedder: Annotated[str, typer.Option(help="minilm (embedded) or a sentence-transformers folder.")] = "minilm",
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metric names (see evalkit rag metrics); "
                                                     "default: every metric without an LLM judge, plus the LLM "
                                                     "ones with --judge.")] = None,
    limit: Annotated[int | None, typer.Option(help="Score only the first N traces.")] = None,
    attribution_threshold: Annotated[float | None, typer.Option(help="Answer-chunk sentence cosine for a chunk "
                                                                     "to count as attributed (default 0.6).")] = None,
    max_judge_failure_rate: Annotated[float | None, typer.Option(help="Above this share of judge failures a "
                                                                      "metric is unreliable (default 0.2).")] = None,
    judge_max_new_tokens: Annotated[int | None, typer.Option(help="Judge reply length cap (default 256).")] = None,
    judge_batch_size: Annotated[int | None, typer.Option(help="Items scored at once; a local judge answers their "
                                                              "calls in batches of this size (default 8).")] = None,
    label: Annotated[str | None, typer.Option(help="Name of the run in the run store (default traces:FILE).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scorecard JSON on stdout.")] = False,
) -> None:
    """Compute RAG metrics of a traces file and store them as a run (gate them with rag.<metric>)."""
    from evalkit.progress import task_progress
    from evalkit.rag import score_traces

    names = [name.strip() for name in metrics.split(",") if name.strip()] if metrics is not None else None
    settings = _settings(metrics=names, judge=judge, embedder=embedder, limit=limit,
                         attribution_threshold=attribution_threshold, max_judge_failure_rate=max_judge_failure_rate,
                         judge_max_new_tokens=judge_max_new_tokens, judge_batch_size=judge_batch_size)
    with task_progress(console=errors, quiet=quiet or as_json) as (notify, progress):
        scorecard = score_traces(traces, settings, label=label, notify=notify, progress=progress)
    if as_json:
        sys.stdout.write(scorecard.model_dump_json(indent=2) + "\n")
        return
    from evalkit.report import print_scorecard

    print_scorecard(scorecard, console)
    console.print(f"run {scorecard.run_id}: {Path(scorecard.items_path).parent}")


@rag_app.command("metrics")
def list_metrics(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the RAG metrics: name, family, the inputs each needs, what it measures."""
    from rich.table import Table

    from evalkit.rag import METRICS

    rows = [{"name": spec.name, "family": spec.family, "needs": list(spec.needs), "description": spec.description}
            for spec in METRICS.values()]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title="RAG metrics")
    for column in ("name", "family", "needs", "description"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["family"], ", ".join(row["needs"]), row["description"])
    console.print(table)
