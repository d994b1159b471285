"""``evalkit guard``: score conversations with a guard, or print the exact prompt a guard would see."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from evalkit.errors import GuardError

guard_app = typer.Typer(help="Safety guards: check conversations, audit templates.", no_args_is_help=True)
console = Console(width=None if Console().is_terminal else 160)

GuardOption = Annotated[str, typer.Option("--guard", help="NAME or NAME=CHECKPOINT (see `evalkit guard list`).")]
FileOption = Annotated[Path | None, typer.Option("--file", help="JSONL: one conversation per line (a list of "
                                                               "{role, content} turns, or {\"messages\": [...]}).")]


def read_conversations(path: Path) -> list[Any]:
    """Read and validate a JSONL file of conversations.

    Args:
        path: the file.

    Returns:
        The validated conversations, in file order.

    Raises:
        GuardError: the file is missing, a line is not JSON, or a conversation is malformed (the line is named).
    """
    from guards import conversation

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise GuardError(f"cannot read {path}: {error.strerror or error}; give a JSONL file of conversations") from None
    conversations = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            raise GuardError(f"{path} line {number} is not JSON: write one conversation per line") from None
        turns = value.get("messages") if isinstance(value, dict) else value
        conversations.append(conversation(turns, where=f"{path} line {number}"))
    if not conversations:
        raise GuardError(f"{path} has no conversations: write one JSON list of turns per line")
    return conversations


def _inputs(text: str | None, response: str | None, file: Path | None) -> list[Any]:
    from guards import conversation

    if (text is None) == (file is None):
        raise GuardError("give exactly one of TEXT or --file conversations.jsonl")
    if file is not None:
        return read_conversations(file)
    turns = [{"role": "user", "content": text}]
    if response is not None:
        turns.append({"role": "assistant", "content": response})
    return [conversation(turns, where="TEXT")]


def _options(threshold: float, exclude: str | None, policies: str | None, device: str | None, dtype: str,
             batch_size: int) -> Any:
    from guards import GuardOptions

    def split(value: str | None) -> tuple[str, ...]:
        return tuple(part.strip() for part in (value or "").split(",") if part.strip())

    if not 0.0 < threshold < 1.0:
        raise GuardError(f"--threshold {threshold} is outside (0, 1): pass e.g. 0.5")
    return GuardOptions(threshold=threshold, excluded=split(exclude), policies=split(policies), device=device,
                        dtype=dtype, batch_size=batch_size)


@guard_app.command("check")
def check(
    text: Annotated[str | None, typer.Argument(help="A user message to classify.")] = None,
    guard: GuardOption = "reference",
    response: Annotated[str | None, typer.Option(help="Classify this assistant reply to TEXT instead.")] = None,
    file: FileOption = None,
    threshold: Annotated[float, typer.Option(help="unsafe_prob at or above which the label is unsafe.")] = 0.5,
    exclude: Annotated[str | None, typer.Option(help="Comma-separated category codes to leave out, e.g. S6.")] = None,
    policies: Annotated[str | None, typer.Option(help="ShieldGemma policies (comma-separated names).")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, ...")] = None,
    dtype: Annotated[str, typer.Option(help="auto, float32, bfloat16, float16.")] = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Conversations per forward pass.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON verdict per line.")] = False,
) -> None:
    """Print a guard's verdict on a message or on each conversation of a JSONL file."""
    from rich.table import Table

    from guards import load_guard

    conversations = _inputs(text, response, file)
    verdicts = load_guard(guard, _options(threshold, exclude, policies, device, dtype, batch_size)).score(conversations)
    if as_json:
        for index, verdict in enumerate(verdicts):
            sys.stdout.write(json.dumps({"index": index, **verdict.model_dump(mode="json")}) + "\n")
        return
    table = Table(title=f"guard {guard}")
    for column in ("#", "judged", "label", "unsafe_prob", "categories"):
        table.add_column(column)
    for index, (conv, verdict) in enumerate(zip(conversations, verdicts, strict=True)):
        judged = "response" if conv[-1].role == "assistant" else "prompt"
        codes = ", ".join(f"{category.code} {category.name}" for category in verdict.categories)
        label = "parse error" if verdict.parse_error else verdict.label
        table.add_row(str(index), judged, label, f"{verdict.unsafe_prob:.4f}", codes or "-")
    console.print(table)


@guard_app.command("render")
def render(
    guard: GuardOption,
    file: FileOption = None,
    text: Annotated[str | None, typer.Argument(help="A user message (instead of --file).")] = None,
    exclude: Annotated[str | None, typer.Option(help="Comma-separated category codes to leave out.")] = None,
    policies: Annotated[str | None, typer.Option(help="ShieldGemma policies (comma-separated names).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One {index, prompt} object per line.")] = False,
) -> None:
    """Print the exact prompt string each conversation becomes, without loading weights."""
    from guards import render_prompt

    options = _options(0.5, exclude, policies, None, "auto", 1)
    for index, conv in enumerate(_inputs(text, None, file)):
        prompt = render_prompt(guard, conv, options)
        if as_json:
            sys.stdout.write(json.dumps({"index": index, "prompt": prompt}, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(f"--- conversation {index} ---\n{prompt}\n")


@guard_app.command("list")
def list_guards() -> None:
    """List the registered guards and where their weights come from."""
    from guards import guard_entry, guard_names

    for name in guard_names():
        entry = guard_entry(name)
        console.print(f"{name}: {entry.summary} [default weights: {entry.default_checkpoint or 'bundled'}]",
                      markup=False)
