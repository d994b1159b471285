"""``evalkit registry``: list, show, register, promote (through the gate) and roll back model versions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

registry_app = typer.Typer(help="Model versions, aliases and gated promotion.",
                           no_args_is_help=True)
console = Console(width=None if Console().is_terminal else 160)
errors = Console(stderr=True)


@registry_app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List versions (newest first) with the aliases that point at them."""
    from rich.table import Table

    from tuner.registry import aliases, list_versions

    pointed: dict[str, list[str]] = {}
    for alias, version_id in aliases().items():
        pointed.setdefault(version_id, []).append(alias)
    versions = list_versions()
    if as_json:
        rows = [{**version.__dict__, "path": str(version.path), "aliases": pointed.get(version.version_id, [])}
                for version in versions]
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title="evalkit registry")
    for column in ("version", "created", "status", "aliases", "checkpoint", "runs", "note"):
        table.add_column(column)
    for version in versions:
        table.add_row(version.version_id, version.created_at, version.status,
                      ", ".join(pointed.get(version.version_id, [])), version.spec, str(len(version.run_ids)),
                      version.note or "")
    console.print(table)


@registry_app.command("show")
def show(reference: Annotated[str, typer.Argument(help="A version id (or prefix) or an alias.")]) -> None:
    """Show a version's manifest and, for an alias, its history of moves."""
    from tuner.registry import ALIASES, get_version, history

    version = get_version(reference)
    console.print_json(json.dumps({**version.__dict__, "path": str(version.path), "manifest": version.manifest}))
    if reference in ALIASES:
        for event in history(reference):
            console.print(f"{event.at} {event.action}: {event.from_version or '-'} -> {event.to_version} "
                          f"(gate {event.gate_id or '-'}) {event.reason or ''}", markup=False)


@registry_app.command("register")
def register(
    spec: Annotated[str, typer.Argument(help="The checkpoint spec of the version.")],
    run: Annotated[list[str] | None, typer.Option("--run", help="A run id that scored it (repeatable).")] = None,
    base: Annotated[str | None, typer.Option(help="The base model spec it derives from, if any.")] = None,
) -> None:
    """Register a checkpoint as a new version (the tuner does this itself after training)."""
    from evalkit.checkpoints import resolve
    from evalkit.store import load_scorecard
    from tuner.model_card import model_card
    from tuner.registry import register_version

    checkpoint = resolve(spec)
    run_ids = list(run or [])
    scorecards = [load_scorecard(run_id) for run_id in run_ids]
    manifest = {"spec": spec, "fingerprint": checkpoint.fingerprint, "kind": checkpoint.kind,
                "base": base or (checkpoint.base.spec if checkpoint.base else None),
                "runs": [scorecard.run_id for scorecard in scorecards]}
    version = register_version(spec, checkpoint.fingerprint, manifest=manifest,
                               run_ids=[scorecard.run_id for scorecard in scorecards],
                               model_card=model_card(spec, manifest, scorecards))
    console.print(f"registered {version.version_id} ({spec}); model card {version.path / 'model_card.md'}",
                  markup=False)


@registry_app.command("promote")
def promote_command(
    reference: Annotated[str, typer.Argument(help="The version to promote (id, prefix or alias).")],
    alias: Annotated[str, typer.Option(help="The alias to move.")] = "production",
    policy: Annotated[Path | None, typer.Option(help="Gate policy YAML (required unless --force).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Skip the gate (needs --reason; recorded).")] = False,
    reason: Annotated[str | None, typer.Option(help="Why the gate is skipped (with --force).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Move an alias to a version only if the gate passes against what the alias points at now."""
    from evalkit.gate.command import score_candidate
    from evalkit.gate.render import print_table
    from tuner.promote import promote

    if force and reason is None:
        raise typer.BadParameter("--force needs --reason 'why the gate is skipped'")
    if not yes and not typer.confirm(f"move {alias} to {reference}?"):
        raise typer.Exit(1)
    result, event = promote(reference, alias=alias, policy=policy, force_reason=reason if force else None,
                            score=lambda policy_file, spec: score_candidate(policy_file, spec, console=errors,
                                                                            quiet=False))
    if result is not None:
        print_table(result, console)
    if event is None:
        console.print(f"gate failed: {alias} unchanged; the version is marked rejected", markup=False)
        raise typer.Exit(1)
    console.print(f"{alias}: {event.from_version or '-'} -> {event.to_version} ({event.action})", markup=False)


@registry_app.command("rollback")
def rollback_command(
    alias: Annotated[str, typer.Argument(help="The alias to move back.")] = "production",
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Move an alias back to the version it pointed at before its last move."""
    from tuner.registry import rollback

    if not yes and not typer.confirm(f"roll {alias} back?"):
        raise typer.Exit(1)
    event = rollback(alias, reason=reason)
    console.print(f"{alias}: {event.from_version} -> {event.to_version} (rollback)", markup=False)
