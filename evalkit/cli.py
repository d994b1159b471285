"""The ``evalkit`` command line (typer + rich). Bad input becomes one line on stderr and exit code 2."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from evalkit import __version__
from evalkit.cli_dashboard import dashboard_app
from evalkit.cli_guard import guard_app
from evalkit.cli_rag import rag_app
from evalkit.cli_registry import registry_app
from evalkit.cli_tuner import data_app, tune
from evalkit.errors import EvalkitError
from monitor.cli import monitor_app

app = typer.Typer(help="evalkit: decide whether a language model is fit to ship.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
runs_app = typer.Typer(help="List and inspect stored runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(monitor_app, name="monitor")
app.add_typer(guard_app, name="guard")
app.add_typer(rag_app, name="rag")
app.add_typer(registry_app, name="registry")
app.add_typer(dashboard_app, name="dashboard")
app.add_typer(data_app, name="data")
app.command("tune")(tune)
console = Console(width=None if Console().is_terminal else 160)
errors = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"evalkit {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    """evalkit: decide whether a language model is fit to ship."""


def _batch_size(value: str) -> int | str:
    if value == "auto":
        return "auto"
    try:
        return int(value)
    except ValueError:
        raise EvalkitError(f"--batch-size {value!r} is not an integer or 'auto': pass e.g. 8 or auto") from None


Block = TypeVar("Block", bound=BaseModel)


def _block_with_options(block: Block | None, suite: str, *, limit: int | None, option: str,
                        value: str | None) -> Block | None:
    """A suite's safety or rag block with ``--limit`` and its judging option (``--guard``/``--judge``) applied.

    Raises:
        EvalkitError: the option was given but the suite has no such block.
    """
    if block is None:
        if value is not None:
            raise EvalkitError(f"--{option} judges the {suite} suite: add --suite {suite} (or a suite with a {suite} "
                               "block)")
        return None
    updates: dict[str, object] = {} if limit is None else {"limit": limit}
    if value is not None:
        updates[option] = value
    return block.model_copy(update=updates)


@app.command()
def score(
    spec: Annotated[str, typer.Argument(help="smollm2, a model folder, a PEFT adapter folder, a .gguf file, "
                                             "a hub id, or openai:MODEL@URL.")],
    suite: Annotated[str | None, typer.Option(help="Built-in suite (quick, standard, full) or suite YAML.")] = None,
    tasks: Annotated[str | None, typer.Option(help="Comma-separated lm-eval task/group names or task YAML "
                                                   "paths.")] = None,
    limit: Annotated[int | None, typer.Option(help="Score at most this many items per task.")] = None,
    num_fewshot: Annotated[int | None, typer.Option("--num-fewshot", help="Few-shot examples per item.")] = None,
    batch_size: Annotated[str, typer.Option("--batch-size", help="An int, or auto.")] = "8",
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:0, ... (default: cuda if present).")] = None,
    dtype: Annotated[str, typer.Option(help="auto (float32 on CPU, bfloat16 on GPU), float32, bfloat16, "
                                            "float16.")] = "auto",
    backend: Annotated[str, typer.Option(help="evalkit-prefix (each context encoded once; same results) or hf "
                                              "(lm-eval's HFLM).")] = "evalkit-prefix",
    apply_chat_template: Annotated[bool, typer.Option("--apply-chat-template",
                                                      help="Wrap prompts in the model's chat template.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for sampling and few-shot selection.")] = 1234,
    ppl_data: Annotated[Path | None, typer.Option("--ppl-data", help="JSONL (text field) or text file for "
                                                                    "perplexity.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Re-run tasks even when results are stored.")] = False,
    bootstrap_iters: Annotated[int, typer.Option("--bootstrap-iters", help="Bootstrap resamples for stderr of "
                                                                           "non-mean metrics.")] = 1000,
    prompt_ppl_sample: Annotated[int, typer.Option("--prompt-ppl-sample", help="Prompts per task for prompt "
                                                                              "perplexity (0: off).")] = 10,
    guard: Annotated[str | None, typer.Option(help="Guard that judges the safety suite's replies: NAME or "
                                                   "NAME=CHECKPOINT (default: the suite's, else reference).")] = None,
    judge: Annotated[str | None, typer.Option(help="Judge checkpoint for the rag suite: adds its LLM-judge metrics "
                                                   "and checks chunk attributions.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scorecard JSON on stdout.")] = False,
) -> None:
    """Score a checkpoint on a suite or on tasks and store the run."""
    _quiet_libraries(quiet or as_json)
    from evalkit.score import ScoreOptions
    from evalkit.score import score as run_score
    from evalkit.suites import SuiteEntry, load_suite

    if (suite is None) == (tasks is None):
        raise EvalkitError("give exactly one of --suite or --tasks, e.g. --suite quick")
    safety = rag = None
    if suite is not None:
        loaded_suite = load_suite(suite)
        entries, suite_name, safety, rag = loaded_suite.tasks, loaded_suite.name, loaded_suite.safety, loaded_suite.rag
    else:
        entries = [SuiteEntry(task=name.strip()) for name in (tasks or "").split(",") if name.strip()]
        suite_name = None
        if not entries:
            raise EvalkitError("--tasks is empty: give at least one task name")
    safety = _block_with_options(safety, "safety", limit=limit, option="guard", value=guard)
    rag = _block_with_options(rag, "rag", limit=limit, option="judge", value=judge)
    options = ScoreOptions(limit=limit, num_fewshot=num_fewshot, batch_size=_batch_size(batch_size), device=device,
                           dtype=dtype, apply_chat_template=apply_chat_template, seed=seed, use_cache=not no_cache,
                           bootstrap_iters=bootstrap_iters, ppl_data=ppl_data, prompt_ppl_sample=prompt_ppl_sample,
                           backend=backend)
    quiet = quiet or as_json
    from evalkit.progress import task_progress

    with task_progress(console=errors, quiet=quiet) as (notify, progress):
        scorecard = run_score(spec, entries, options, suite=suite_name, safety=safety, rag=rag, notify=notify,
                              progress=progress)
    if as_json:
        sys.stdout.write(scorecard.model_dump_json(indent=2) + "\n")
        return
    from evalkit.report import print_scorecard

    print_scorecard(scorecard, console)
    console.print(f"run {scorecard.run_id}: {Path(scorecard.items_path).parent}")


def _quiet_libraries(quiet: bool) -> None:
    import logging

    # lm-eval's warnings (e.g. "Overwriting default num_fewshot") describe settings the scorecard already records.
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    if quiet:
        os.environ.setdefault("TQDM_DISABLE", "1")
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()


@runs_app.command("list")
def runs_list(all_runs: Annotated[bool, typer.Option("--all", help="Include running and failed runs.")] = False,
              as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List stored runs, newest first."""
    from rich.table import Table

    from evalkit.store import list_runs

    records = list_runs(include_unfinished=all_runs)
    if as_json:
        sys.stdout.write(json.dumps([{**record.__dict__, "path": str(record.path)} for record in records]) + "\n")
        return
    table = Table(title="evalkit runs")
    for column in ("run", "created", "status", "checkpoint", "suite"):
        table.add_column(column)
    for record in records:
        table.add_row(record.run_id, record.created_at[:19], record.status, record.spec, record.suite or "-")
    console.print(table)


@runs_app.command("show")
def runs_show(run: Annotated[str, typer.Argument(help="Run id, unique prefix, or latest.")],
              as_json: Annotated[bool, typer.Option("--json", help="Print the scorecard JSON.")] = False) -> None:
    """Show a stored run's scorecard."""
    from evalkit.report import print_scorecard
    from evalkit.store import get_run, load_scorecard

    scorecard = load_scorecard(run)
    if as_json:
        sys.stdout.write(scorecard.model_dump_json(indent=2) + "\n")
        return
    print_scorecard(scorecard, console)
    console.print(f"run folder: {get_run(run).path}")


@app.command()
def report(run: Annotated[str, typer.Argument(help="Run id, unique prefix, or latest.")],
           format: Annotated[str, typer.Option("--format", help="md, html or json.")] = "md") -> None:
    """Print a stored run's report as Markdown, HTML or JSON."""
    from evalkit.report import plot_png, to_html, to_markdown
    from evalkit.store import load_scorecard

    scorecard = load_scorecard(run)
    renderers = {"md": to_markdown, "json": lambda card: card.model_dump_json(indent=2) + "\n",
                 "html": lambda card: to_html(card, plot_png(card))}
    if format not in renderers:
        raise EvalkitError(f"--format {format!r} is not one of md, html, json")
    sys.stdout.write(renderers[format](scorecard))


@app.command()
def compare(run_a: Annotated[str, typer.Argument(help="Reference run.")],
            run_b: Annotated[str, typer.Argument(help="Run compared with it.")],
            as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Per-task and per-metric deltas between two runs (B - A)."""
    from rich.table import Table

    from evalkit.compare import compare as compare_runs
    from evalkit.store import load_scorecard

    deltas = compare_runs(load_scorecard(run_a), load_scorecard(run_b))
    if as_json:
        sys.stdout.write(json.dumps([delta.__dict__ for delta in deltas]) + "\n")
        return
    table = Table(title=f"{run_b} vs {run_a}")
    for column in ("task", "metric", "filter", "A", "B", "B - A", "stderr"):
        table.add_column(column)

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+.4f}" if value < 0 else f"{value:.4f}"

    for delta in deltas:
        table.add_row(delta.task, delta.metric, delta.filter, fmt(delta.value_a), fmt(delta.value_b),
                      "n/a" if delta.delta is None else f"{delta.delta:+.4f}", fmt(delta.delta_stderr))
    console.print(table)


@app.command()
def schema() -> None:
    """Print the Scorecard's JSON Schema."""
    from evalkit.scorecard import Scorecard

    sys.stdout.write(json.dumps(Scorecard.model_json_schema(), indent=2) + "\n")


@app.command("tasks")
def list_tasks() -> None:
    """List the bundled offline tasks and the built-in suites."""
    from evalkit.suites import builtin_suite_names, load_suite
    from evalkit.tasks_resolve import bundled_task_names

    console.print("[bold]bundled offline tasks[/bold] (small stand-ins written for evalkit, not the benchmarks)")
    for name in bundled_task_names():
        console.print(f"  {name}")
    console.print("[bold]suites[/bold]")
    for name in builtin_suite_names():
        console.print(f"  {name}: {load_suite(name).description}")


gate_app = typer.Typer(help="Gate a run on a policy: exit 0 pass, 1 fail, 2 error.")
app.add_typer(gate_app, name="gate")


@gate_app.callback(invoke_without_command=True)
def gate(
    ctx: typer.Context,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML (see examples/policies/).")] = None,
    candidate: Annotated[str | None, typer.Option(help="Run id, run folder or scorecard.json to judge.")] = None,
    baseline: Annotated[str | None, typer.Option(help="Run id, run folder, scorecard.json, or a registry alias "
                                                      "or version (e.g. production) to compare with.")] = None,
    score_spec: Annotated[str | None, typer.Option("--score", help="Score this checkpoint with the policy's "
                                                                   "suite, then judge it.")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON here.")] = None,
    markdown_file: Annotated[Path | None, typer.Option("--markdown", help="Write Markdown (a PR comment) "
                                                                          "here.")] = None,
    junit_file: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML, one test case per "
                                                                    "check, here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table or progress; only the exit code "
                                                              "and files.")] = False,
) -> None:
    """Judge a candidate run against a policy (and a baseline run)."""
    if ctx.invoked_subcommand is not None:
        return
    if policy is None:
        raise EvalkitError("--policy is required: e.g. evalkit gate --policy examples/policies/quick.yaml "
                           "--candidate RUN --baseline RUN")
    from evalkit.gate import GateRequest, gate_command

    if score_spec is not None:
        _quiet_libraries(quiet)
    request = GateRequest(policy=policy, candidate=candidate, baseline=baseline, score=score_spec,
                          json_file=json_file, markdown_file=markdown_file, junit_file=junit_file, quiet=quiet)
    raise typer.Exit(gate_command(request, console=console, errors=errors))


@gate_app.command("explain")
def gate_explain(gate_id: Annotated[str, typer.Argument(help="Gate id (printed by evalkit gate), unique prefix, "
                                                             "or latest.")]) -> None:
    """Print each check's verdict and evidence for a past gate run."""
    from evalkit.gate import load_gate_result
    from evalkit.gate.render import print_explanation

    print_explanation(load_gate_result(gate_id), console)


def run() -> None:
    """Entry point: run the app, turning evalkit errors into one line and exit code 2."""
    try:
        code = app(standalone_mode=False)
    except EvalkitError as error:
        errors.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(error.exit_code) from None
    except (typer.Exit, typer.Abort) as stop:
        raise SystemExit(getattr(stop, "exit_code", 1)) from None
    except Exception as error:
        import click

        if isinstance(error, click.ClickException):
            error.show()
            raise SystemExit(2) from None
        raise
    if isinstance(code, int) and code:
        raise SystemExit(code)
