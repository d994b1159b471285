"""The data preflight behind ``evalkit data check`` and ``evalkit tune``: every check over one file, one report.

Severities: schema problems (unreadable rows, missing or empty fields, identical DPO answers), exact duplicates,
contamination with evaluation items, personal information and unsafe answers are **errors**; fewer than
``min_examples`` examples is a warning unless ``fail_on_small``; near duplicates, unsafe requests, label imbalance
and over-long examples are warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from evalkit.pii import redact
from tuner.data.balance import class_weights, imbalance_findings, label_counts
from tuner.data.contamination import build_index, contamination
from tuner.data.duplicates import exact_duplicates, near_duplicates
from tuner.data.io import DataFile, map_strings, read_data, write_records
from tuner.data.lengths import length_findings
from tuner.data.report import DataReport, Finding, counted
from tuner.data.schema import Method, Parsed, parse_examples
from tuner.data.screening import pii_findings, unsafe_findings
from tuner.errors import DataError

if TYPE_CHECKING:
    from guards import Guard

MIN_EXAMPLES = 1000
Notify = Callable[[str], None]


class PreflightOptions(BaseModel):
    """What the preflight checks and where its thresholds are (the same fields under ``data.preflight`` in a tune
    config)."""

    model_config = ConfigDict(extra="forbid")

    min_examples: int = Field(default=MIN_EXAMPLES, ge=0, description="Fewer examples than this is a warning "
                              "(the guide recommends at least 1,000).")
    fail_on_small: bool = Field(default=False, description="Make too few examples an error.")
    near_duplicate_threshold: float = Field(default=0.8, gt=0, le=1, description="Word 3-gram Jaccard similarity "
                                            "from which two examples are near duplicates.")
    contamination: bool = Field(default=True, description="Check n-gram overlap with the bundled evaluation items.")
    against: list[Path] = Field(default_factory=list, description="More evaluation items: data files or task YAMLs.")
    pii: bool = Field(default=True, description="Scan for emails, phone and card numbers, IDs, addresses.")
    guard: str | None = Field(default="reference", description="Guard that judges requests and answers "
                              "(NAME or NAME=CHECKPOINT); null skips the safety screen.")
    imbalance_ratio: float = Field(default=3.0, ge=1, description="Largest tolerated majority/minority class ratio.")
    label_field: str | None = Field(default=None, description="Field to stratify and balance by (default: label "
                                    "or category when present).")


def load_screening_guard(option: str) -> Guard:
    """Load the guard that ``option`` names, as a one-line error when it cannot be loaded."""
    from guards import load_guard

    try:
        return load_guard(option)
    except ImportError as error:
        raise DataError(f"guard {option!r} could not be loaded ({error}): install it, or skip the safety screen "
                        "(--no-guard, or guard: null in a tune config)") from None


def _size_findings(examples: int, options: PreflightOptions, unit: str) -> list[Finding]:
    if examples >= options.min_examples:
        return []
    severity = "error" if options.fail_on_small else "warning"
    return [Finding(check="size", severity=severity,
                    message=f"{counted(examples, 'valid ' + unit)}, fewer than {options.min_examples} (the guide recommends at "
                            "least 1,000 for effective fine-tuning): add examples")]


def preflight(data: DataFile, method: Method, options: PreflightOptions, *, tokenizer: Any = None,
              guard: Guard | None = None, max_length: int = 1024,
              notify: Notify = lambda message: None) -> tuple[DataReport, Parsed]:
    """Run every check over a read file.

    Args:
        data: the file.
        method: ``sft`` or ``dpo``.
        options: thresholds and switches.
        tokenizer: the target model's tokenizer; ``None`` skips the length statistics.
        guard: the guard for the safety screen; ``None`` skips it.
        max_length: the training sequence length (longer examples are a warning).
        notify: called with a short message as each slow check starts.

    Returns:
        The report and the parsed examples.
    """
    parsed = parse_examples(data, method, label_field=options.label_field)
    examples, unit = parsed.examples, data.unit
    findings = parsed.findings + _size_findings(len(examples), options, unit) + exact_duplicates(examples, unit)
    notify("checking near duplicates")
    findings += near_duplicates(examples, unit, threshold=options.near_duplicate_threshold)
    if options.contamination or options.against:
        notify("checking overlap with evaluation items")
        findings += contamination(examples, build_index(options.against, bundled=options.contamination), unit)
    if options.pii:
        findings += pii_findings(examples, unit)
    if guard is not None and examples:
        notify(f"screening with guard {guard.name}")
        findings += unsafe_findings(examples, guard, unit)
    counts = label_counts(examples)
    if parsed.label_field is not None:
        findings += imbalance_findings(counts, parsed.label_field, max_ratio=options.imbalance_ratio)
    lengths: dict[str, float] = {}
    if tokenizer is not None:
        notify("measuring lengths in tokens")
        lengths, long = length_findings(examples, tokenizer, max_length=max_length, unit=unit,
                                        chat=parsed.layout == "messages")
        findings += long
    report = DataReport(path=str(data.path), sha256=data.sha256, method=method, layout=parsed.layout, unit=unit,
                        examples=len(examples), rows=len(data.rows), findings=findings,
                        label_field=parsed.label_field, label_counts=counts, class_weights=class_weights(counts),
                        length_tokens=lengths)
    return report, parsed


def check_file(path: Path, method: Method, options: PreflightOptions, *, tokenizer: Any, max_length: int = 1024,
               notify: Notify = lambda message: None) -> tuple[DataReport, Parsed, DataFile]:
    """Read a file and run :func:`preflight` with the guard the options name.

    Args:
        path: the data file or saved dataset.
        method: ``sft`` or ``dpo``.
        options: thresholds and switches.
        tokenizer: the target model's tokenizer (measures lengths); ``None`` skips them.
        max_length: the training sequence length.
        notify: progress messages.

    Returns:
        The report, the parsed examples and the read file.
    """
    notify(f"reading {path}")
    data = read_data(path)
    if options.guard:
        notify(f"loading guard {options.guard}")
    guard = load_screening_guard(options.guard) if options.guard else None
    report, parsed = preflight(data, method, options, tokenizer=tokenizer, guard=guard, max_length=max_length,
                               notify=notify)
    return report, parsed, data


def write_redacted(data: DataFile, target: Path) -> str:
    """Write a copy of every readable row with each PII hit replaced by its kind (``[EMAIL]``, ``[PHONE]``, ...).

    Args:
        data: the read file.
        target: a ``.jsonl``, ``.csv`` or ``.parquet`` path (not the source itself).

    Returns:
        The written path.
    """
    if target.resolve() == data.path.resolve():
        raise DataError(f"--redact {target} is the input file: write the redacted copy to a new file")
    write_records(target, [map_strings(row.record, redact) for row in data.rows if row.record is not None])
    return str(target)
