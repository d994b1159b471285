"""What ``evalkit data check`` found: findings with severities and positions, statistics, and the terminal view."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["error", "warning", "info"]
CHECKS = ("schema", "size", "exact_duplicates", "near_duplicates", "contamination", "pii", "unsafe", "imbalance",
          "length")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Finding(_Strict):
    """One problem (or fact) about the data.

    Attributes:
        check: which check found it (one of :data:`CHECKS`).
        severity: ``error`` fails the check; ``warning`` and ``info`` are reported only.
        message: one line: what is wrong, how many rows, and the fix.
        positions: the lines (JSONL) or rows (tables) concerned, 1-based.
        details: per-position evidence, e.g. duplicate pairs with their similarity, matched n-grams, PII kinds.
    """

    check: str
    severity: Severity
    message: str
    positions: list[int] = Field(default_factory=list)
    details: list[dict[str, Any]] = Field(default_factory=list)


class DataReport(_Strict):
    """The preflight report of one data file."""

    path: str
    sha256: str = Field(description="sha256 of the file (a dataset folder: of its files).")
    method: Literal["sft", "dpo"]
    layout: str | None = Field(description="human_assistant, prompt_completion, messages or preference.")
    unit: str = Field(description="line (JSONL) or row (CSV, Parquet, saved dataset): how positions count.")
    examples: int = Field(description="Rows that passed the schema check.")
    rows: int = Field(description="All rows read.")
    findings: list[Finding]
    label_field: str | None = None
    label_counts: dict[str, int] = Field(default_factory=dict)
    class_weights: dict[str, float] = Field(default_factory=dict, description="'balanced' weights, n / (k * count).")
    length_tokens: dict[str, float] = Field(default_factory=dict, description="Example length in the target "
                                            "model's tokens: min, mean, median, p95, max.")
    tokenizer: str | None = Field(default=None, description="The checkpoint whose tokenizer counted the tokens.")
    outputs: dict[str, str] = Field(default_factory=dict, description="Files written: redacted copy, split, manifest.")

    @property
    def errors(self) -> list[Finding]:
        """The findings that fail the check."""
        return [finding for finding in self.findings if finding.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not self.errors


def counted(count: int, unit: str) -> str:
    """``1 line``, ``3 lines``."""
    return f"{count} {unit}{'' if count == 1 else 's'}"


def positions_text(unit: str, positions: list[int], *, limit: int = 8) -> str:
    """``lines 3, 7, 9 and 4 more``: the first positions, named by unit."""
    if not positions:
        return ""
    shown = ", ".join(str(position) for position in positions[:limit])
    more = f" and {len(positions) - limit} more" if len(positions) > limit else ""
    return f"{unit}{'s' if len(positions) > 1 else ''} {shown}{more}"


def print_report(report: DataReport, console: Any) -> None:
    """Draw the report as a table of findings (errors first) and a verdict line.

    Args:
        report: the report.
        console: a rich console.
    """
    from rich.table import Table

    table = Table(title=f"data check: {report.path} ({report.method}, {report.layout or 'unknown layout'}, "
                        f"{report.examples}/{report.rows} {report.unit}s valid)")
    for column in ("severity", "check", "finding", "where"):
        table.add_column(column, overflow="fold")
    order = {"error": 0, "warning": 1, "info": 2}
    for finding in sorted(report.findings, key=lambda item: order[item.severity]):
        style = {"error": "red", "warning": "yellow", "info": "dim"}[finding.severity]
        table.add_row(f"[{style}]{finding.severity}[/{style}]", finding.check, finding.message,
                      positions_text(report.unit, finding.positions))
    console.print(table)
    if report.length_tokens:
        stats = ", ".join(f"{name} {value:g}" for name, value in report.length_tokens.items())
        console.print(f"length in tokens of {report.tokenizer}: {stats}", markup=False, highlight=False)
    if report.label_counts:
        counts = ", ".join(f"{label} {count}" for label, count in report.label_counts.items())
        console.print(f"{report.label_field}: {counts}", markup=False, highlight=False)
    for name, path in report.outputs.items():
        console.print(f"wrote {name}: {path}", markup=False, highlight=False)
    verdict = "[green]PASS[/green]" if report.ok else f"[red]FAIL[/red]: {len(report.errors)} error finding(s)"
    console.print(f"data check {verdict}")
