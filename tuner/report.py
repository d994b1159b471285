"""The terminal summary of ``evalkit tune``: the training run, its losses and curve verdicts, and each artefact's
registry version and gate decision."""

from __future__ import annotations

from typing import Any

from tuner.pipeline import TuneOutcome


def _loss(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def print_outcome(outcome: TuneOutcome, console: Any) -> None:
    """Print what ``evalkit tune`` did.

    Args:
        outcome: the result of :func:`tuner.pipeline.tune`.
        console: a rich console.
    """
    from rich.table import Table

    section = outcome.section
    summary = section.summary
    console.print(f"trained {section.method} ({section.adapter}) on {section.base} for {section.steps} steps "
                  f"({section.epochs:.2f} epochs); run {section.training_run}", markup=False, highlight=False)
    console.print(f"training loss {_loss(summary['first_train_loss'])} -> {_loss(summary['last_train_loss'])}; "
                  f"eval loss {_loss(summary['first_eval_loss'])} -> {_loss(summary['last_eval_loss'])} (best "
                  f"{_loss(summary['best_eval_loss'])}{f' at step {section.best_step}' if section.best_step else ''})",
                  markup=False, highlight=False)
    table = Table(title="curve verdicts")
    for column in ("verdict", "name", "reason"):
        table.add_column(column, overflow="fold")
    for verdict in section.verdicts:
        style = {"pass": "green", "fail": "red", "warn": "yellow"}[verdict.verdict]
        table.add_row(f"[{style}]{verdict.verdict}[/{style}]", verdict.name, verdict.reason)
    console.print(table)
    console.print(f"adapter {section.output}; manifest {outcome.manifest_path}", markup=False, highlight=False)
    for item in outcome.promotions:
        if item.gate is None:
            decision = "registered (no promotion policy)"
        elif item.event is None:
            failing = ", ".join(check.name for check in item.gate.checks if check.blocks)
            decision = f"gate {item.gate.gate_id} FAILED ({failing}): rejected, aliases unchanged"
        else:
            decision = (f"gate {item.gate.gate_id} passed: {item.event.alias} {item.event.from_version or '-'} -> "
                        f"{item.event.to_version}")
        console.print(f"{item.spec}: version {item.version_id}; {decision}", markup=False, highlight=False)
