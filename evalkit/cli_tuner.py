"""``evalkit data check`` (training-data preflight) and ``evalkit tune`` (train, score, register, promote)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from pydantic import ValidationError
from rich.console import Console

from evalkit.errors import EvalkitError
from tuner.data import DataFile, PreflightOptions, split_examples, split_manifest, write_split
from tuner.data.balance import Balance
from tuner.data.schema import Parsed

data_app = typer.Typer(help="Check training data before fine-tuning.", no_args_is_help=True)
console = Console(width=None if Console().is_terminal else 160)
errors = Console(stderr=True)


_OPTION_NAMES = {"min_examples": "--min-examples", "near_duplicate_threshold": "--near-duplicates",
                 "imbalance_ratio": "--imbalance-ratio"}


def _options(**values: Any) -> PreflightOptions:
    """The preflight options, with a validation error as one line naming the command-line option."""
    try:
        return PreflightOptions(**values)
    except ValidationError as error:
        first = error.errors()[0]
        option = _OPTION_NAMES.get(str(first["loc"][0]), str(first["loc"][0]))
        raise EvalkitError(f"{option}: {first['msg']}") from None


def _write_split(parsed: Parsed, read: DataFile, folder: Path, *, eval_fraction: float, seed: int,
                 balance: Balance | None) -> dict[str, str]:
    """Split the valid examples and write the parts and their manifest into ``folder``."""
    split = split_examples(parsed.examples, label_field=parsed.label_field, eval_fraction=eval_fraction, seed=seed,
                           balance=balance)
    manifest = split_manifest(split, source=str(read.path), source_sha256=read.sha256, eval_fraction=eval_fraction,
                              seed=seed, balance=balance)
    return write_split(split, folder, manifest)


def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> None:
    if value is not None and value not in allowed:
        raise EvalkitError(f"{option} {value!r} is not one of {', '.join(allowed)}")


@data_app.command("check")
def check(
    data: Annotated[Path, typer.Argument(help="JSONL, CSV, Parquet, or a dataset saved with datasets.")],
    method: Annotated[str, typer.Option("--format", help="sft (### Human/### Assistant text, prompt/completion or "
                                                         "messages) or dpo (prompt/chosen/rejected).")] = "sft",
    model: Annotated[str, typer.Option(help="Checkpoint whose tokenizer measures lengths; 'none' skips them.")]
        = "smollm2",
    max_length: Annotated[int, typer.Option("--max-length", help="Training length in tokens; longer is a "
                                                                 "warning.")] = 1024,
    guard: Annotated[str, typer.Option(help="Guard for the unsafe screen: NAME or NAME=CHECKPOINT.")] = "reference",
    no_guard: Annotated[bool, typer.Option("--no-guard", help="Skip the unsafe screen.")] = False,
    against: Annotated[list[Path] | None, typer.Option(help="More evaluation items to check overlap with: a data "
                                                            "file or task YAML (repeatable).")] = None,
    no_contamination: Annotated[bool, typer.Option("--no-contamination", help="Skip the overlap check against "
                                                                              "the bundled tasks.")] = False,
    min_examples: Annotated[int, typer.Option("--min-examples", help="Fewer is a warning.")] = 1000,
    fail_on_small: Annotated[bool, typer.Option("--fail-on-small", help="Make too few examples an error.")] = False,
    near_duplicates: Annotated[float, typer.Option("--near-duplicates", help="Word 3-gram Jaccard threshold of "
                                                                             "near duplicates.")] = 0.8,
    imbalance_ratio: Annotated[float, typer.Option("--imbalance-ratio", help="Largest tolerated class "
                                                                             "ratio.")] = 3.0,
    label_field: Annotated[str | None, typer.Option("--label-field", help="Field to stratify and balance by "
                                                                          "(default: label or category).")] = None,
    redact_to: Annotated[Path | None, typer.Option("--redact", help="Write a copy with PII replaced by [KIND] "
                                                                   "(.jsonl, .csv or .parquet).")] = None,
    split_to: Annotated[Path | None, typer.Option("--split", help="Write train.jsonl, eval.jsonl and "
                                                                 "manifest.json here (only when there are no "
                                                                 "errors).")] = None,
    eval_fraction: Annotated[float, typer.Option("--eval-fraction", help="Evaluation share of the split.")] = 0.2,
    balance: Annotated[str | None, typer.Option(help="oversample or undersample the train split.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split and of balancing.")] = 42,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Check a training file before fine-tuning.

    Fields, size, exact and near duplicates, contamination with evaluation items, PII, unsafe examples, label
    imbalance and lengths in tokens. Exit 0 without errors, 1 with errors, 2 when the check cannot run.
    """
    from evalkit.progress import task_progress
    from evalkit.quiet import quiet_libraries
    from tuner.base import load_tokenizer, resolve_base
    from tuner.data import Method, check_file, print_report
    from tuner.data.preflight import write_redacted

    _choice(method, ("sft", "dpo"), "--format")
    _choice(balance, ("oversample", "undersample"), "--balance")
    if not 0 < eval_fraction < 1:
        raise EvalkitError(f"--eval-fraction {eval_fraction} must be between 0 and 1, e.g. 0.2")
    options = _options(min_examples=min_examples, fail_on_small=fail_on_small,
                       near_duplicate_threshold=near_duplicates, contamination=not no_contamination,
                       against=list(against or []), guard=None if no_guard else guard,
                       imbalance_ratio=imbalance_ratio, label_field=label_field)
    with task_progress(console=errors, quiet=quiet or as_json) as (notify, _):
        tokenizer = None
        if model != "none":
            notify(f"loading the tokenizer of {model}")
            with quiet_libraries():
                tokenizer = load_tokenizer(resolve_base(model))
        report, parsed, read = check_file(data, cast(Method, method), options, tokenizer=tokenizer,
                                          max_length=max_length, notify=notify)
        notify("data checked")
    report.tokenizer = model if tokenizer is not None else None
    if redact_to is not None:
        report.outputs["redacted"] = write_redacted(read, redact_to)
    if split_to is not None and report.ok:
        report.outputs.update(_write_split(parsed, read, split_to, eval_fraction=eval_fraction, seed=seed,
                                           balance=cast(Balance | None, balance)))
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    elif not quiet:
        print_report(report, console)
        if split_to is not None and not report.ok:
            console.print("split not written: fix the errors first", markup=False)
    raise typer.Exit(0 if report.ok else 1)


def tune(
    config: Annotated[Path, typer.Argument(help="Tune config YAML (see examples/tuner/sft.yaml).")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Fine-tune a model and promote it only on a full gate pass.

    SFT or DPO with LoRA, DoRA or QLoRA (TRL + PEFT); records the losses and curve verdicts in the run store, then
    scores, registers and gates the adapter. Exit 0 when done (promoted, or registered without a policy), 1 when
    the gate refused the promotion, 2 on bad input.
    """
    from evalkit.cli import _quiet_libraries
    from tuner.pipeline import tune as run_tune
    from tuner.report import print_outcome

    _quiet_libraries(quiet)
    outcome = run_tune(config, console=errors, quiet=quiet)
    if not quiet:
        print_outcome(outcome, console)
    raise typer.Exit(outcome.exit_code)
