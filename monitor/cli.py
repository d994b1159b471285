"""``evalkit monitor``: ingest logs, set the baseline, check windows for drift and alerts, screen responses, and
write the periodic report. Heavy imports happen inside the commands, so ``evalkit --help`` stays fast."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from monitor._errors import MonitorError

if TYPE_CHECKING:
    from monitor.check import CheckResult
    from monitor.config import MonitorConfig
    from monitor.ingest import IngestResult

monitor_app = typer.Typer(help="Monitor production traffic: drift, alerts, screening.",
                          no_args_is_help=True)
console = Console(width=None if Console().is_terminal else 160)
errors = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", help="Monitor config YAML (default: "
                                                   "$EVALKIT_HOME/monitor/config.yaml, else the bundled one).")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or table.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout, nothing else.")]
# (header, window metric) of the check table; `--json` has every metric.
MAIN_COLUMNS = (("rows", "rows"), ("errors", "error_rate"), ("p95 ms", "latency_p95_ms"),
                ("unsafe", "unsafe_response_rate"), ("injection", "injection_rate"),
                ("prompt text", "text_drift.prompt"), ("prompt emb", "embedding_drift.prompt"),
                ("response emb", "embedding_drift.response"), ("drifted cols", "drifted_columns_share"))


@contextmanager
def _progress(quiet: bool) -> Iterator[tuple[Callable[[str], None], Callable[[int, int], None]]]:
    """Yield ``(notify(message), advance(done, total))`` drawing a rich bar on stderr (nothing when quiet)."""
    if quiet:
        yield (lambda message: None), (lambda done, total: None)
        return
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=errors, transient=True)
    bar = progress.add_task("starting", total=None)
    with progress:
        yield (lambda message: progress.update(bar, description=message, completed=0, total=None),
               lambda done, total: progress.update(bar, completed=done, total=total))


def _config(path: Path | None, *, embeds: bool = True) -> MonitorConfig:
    """Load the config; for commands that embed, keep Hugging Face's weight-loading bars (noise here) quiet."""
    from monitor.config import load_config

    if embeds:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    return load_config(path)


def _print_ingest(result: IngestResult) -> None:
    table = Table(title=f"ingest {result.ingest_id}")
    for column in ("file", "read", "added", "already stored", "quarantined", "blocked", "seconds"):
        table.add_column(column)
    table.add_row(Path(result.source).name, str(result.rows_read), str(result.rows_added), str(result.duplicates),
                  str(result.quarantined), str(result.blocked), f"{sum(result.stage_seconds.values()):.1f}")
    console.print(table)
    if result.quarantine_path:
        console.print(f"quarantined rows and reasons: {result.quarantine_path}")


@monitor_app.command()
def ingest(logs: Annotated[list[Path], typer.Argument(help="JSONL, CSV or Parquet log files.")],
           config: ConfigOption = None, quiet: QuietOption = False, as_json: JsonOption = False) -> None:
    """Validate, describe and store production logs (idempotent by request_id; bad rows are quarantined)."""
    from monitor.ingest import ingest as run_ingest

    settings = _config(config)
    results = []
    with _progress(quiet or as_json) as (notify, advance):
        for path in logs:
            results.append(run_ingest(path, settings, notify=notify, progress=advance))
    if as_json:
        sys.stdout.write(json.dumps([asdict(result) for result in results]) + "\n")
    elif not quiet:
        for result in results:
            _print_ingest(result)


@monitor_app.command()
def baseline(start: Annotated[str | None, typer.Option("--from", help="Start of the reference window (ISO "
                                                       "8601, inclusive).")] = None,
             end: Annotated[str | None, typer.Option("--to", help="End of the reference window (exclusive).")] = None,
             file: Annotated[Path | None, typer.Option("--file", help="Use this log file as the reference "
                                                       "instead.")] = None,
             config: ConfigOption = None, quiet: QuietOption = False, as_json: JsonOption = False) -> None:
    """Set the reference window that checks compare with (stored requests in a period, or a log file)."""
    from monitor.baseline import baseline_from_file, baseline_from_range, parse_time

    settings = _config(config)
    if file is not None and (start or end):
        raise MonitorError("give either --file or --from/--to, not both")
    if file is None and not (start and end):
        raise MonitorError("give --from T1 --to T2 (ISO 8601) or --file LOGS")
    with _progress(quiet or as_json) as (notify, advance):
        if file is not None:
            result = baseline_from_file(file, settings, notify=notify, progress=advance)
        else:
            result = baseline_from_range(parse_time(start or "", "--from"), parse_time(end or "", "--to"), settings)
    if as_json:
        sys.stdout.write(json.dumps({**asdict(result), "path": str(result.path)}) + "\n")
    elif not quiet:
        console.print(f"baseline {result.baseline_id}: {result.rows} requests from {result.source}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _print_check(result: CheckResult) -> None:
    if not result.windows:
        console.print(f"no new complete window of {result.window_spec} to check ({result.already_checked} already "
                      f"checked, {result.open_windows} still open)")
        return
    table = Table(title=f"monitor check: baseline {result.baseline_id}, windows of {result.window_spec}")
    for column in ("window start", *(header for header, _ in MAIN_COLUMNS), "failed tests", "alerts"):
        table.add_column(column)
    for window in result.windows:
        alerts = ", ".join(f"{event.rule.name} ({event.kind})" for event in window.alerts) or "-"
        values = [_fmt(window.metrics.get(name)) for _, name in MAIN_COLUMNS] if window.status == "ok" else \
            [str(window.rows), *(["-"] * (len(MAIN_COLUMNS) - 1))]
        table.add_row(window.start[:16].replace("T", " "), *values, str(len(window.failed_tests))
                      if window.status == "ok" else window.status, alerts)
    console.print(table)
    console.print(f"{len(result.windows)} window(s) checked, {result.already_checked} already checked, "
                  f"{result.open_windows} still open; reports under $EVALKIT_HOME/monitor/reports/")
    for window in result.windows:
        for delivery in window.deliveries:
            if delivery.status != "ok":
                errors.print(f"warning: sink {delivery.sink} failed after {delivery.attempts} attempts: "
                             f"{delivery.error}", markup=False, highlight=False)


def _check_json(result: CheckResult) -> dict[str, object]:
    return {"baseline_id": result.baseline_id, "window_spec": result.window_spec,
            "already_checked": result.already_checked, "open_windows": result.open_windows,
            "windows": [{**{key: value for key, value in asdict(window).items() if key != "alerts"},
                         "alerts": [event.payload() for event in window.alerts]} for window in result.windows]}


@monitor_app.command()
def check(window: Annotated[str, typer.Option(help="Window: a duration (30m, 1h, 1d) or a row count "
                                                   "(5000).")] = "1h",
          config: ConfigOption = None, quiet: QuietOption = False, as_json: JsonOption = False) -> None:
    """Compare each new complete window with the baseline (Evidently), store summaries, raise alerts."""
    from monitor.check import check as run_check
    from monitor.windows import parse_window

    spec = parse_window(window)
    settings = _config(config)
    with _progress(quiet or as_json) as (notify, advance):
        result = run_check(settings, spec, notify=notify, advance=advance)
    if as_json:
        sys.stdout.write(json.dumps(_check_json(result), default=str) + "\n")
    elif not quiet:
        _print_check(result)


@monitor_app.command()
def screen(text: Annotated[str | None, typer.Argument(help="The response to screen.")] = None,
           file: Annotated[Path | None, typer.Option("--file", help="Read the response from this file ('-': "
                                                     "stdin).")] = None,
           redact: Annotated[bool, typer.Option("--redact", help="Print the response with PII replaced by "
                                                "[KIND] (exit code still says allowed or blocked).")] = False,
           config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Screen a response before delivery: exit 0 when it may be delivered, 1 when it is blocked."""
    from monitor.screen import screen as run_screen

    if (text is None) == (file is None):
        raise MonitorError("give the response as TEXT or with --file PATH (or --file - for stdin), not both")
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except OSError as error:
            raise MonitorError(f"--file {file} cannot be read ({error.strerror}): check the path") from None
    result = run_screen(text or "", _config(config))
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict()) + "\n")
    elif redact:
        sys.stdout.write(result.redacted + ("" if result.redacted.endswith("\n") else "\n"))
    else:
        console.print("allowed" if result.allowed else f"blocked: {'; '.join(result.reasons)}", markup=False)
    raise typer.Exit(0 if result.allowed else 1)


@monitor_app.command()
def report(format: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
           output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here (default: "
                                                       "stdout).")] = None,
           since: Annotated[str | None, typer.Option("--since", help="Only windows and events from this time "
                                                     "on (ISO 8601).")] = None,
           config: ConfigOption = None) -> None:
    """Write the periodic monitoring report (the seed's twelve steps that apply) as Markdown or HTML."""
    from evalkit.atomic import write_text_atomic
    from monitor.baseline import parse_time
    from monitor.report import build_report, to_html, to_markdown

    if format not in ("md", "html"):
        raise MonitorError(f"--format {format!r} is not md or html")
    data = build_report(_config(config, embeds=False), since=parse_time(since, "--since") if since else None)
    text = to_markdown(data) if format == "md" else to_html(data)
    if output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(output, text)
        console.print(f"report written to {output}")


@monitor_app.command("metrics")
def metrics() -> None:
    """List the metrics that alert rules can name, with what each measures."""
    from monitor.catalog import DESCRIPTOR_COLUMNS, DRIFT_PREFIX, WINDOW_METRICS

    table = Table(title="window metrics for alert rules")
    table.add_column("metric")
    table.add_column("meaning")
    for name, meaning in WINDOW_METRICS.items():
        table.add_row(name, meaning)
    for column, meaning in DESCRIPTOR_COLUMNS.items():
        table.add_row(DRIFT_PREFIX + column, f"Evidently drift score of {column}: {meaning}")
    console.print(table)
