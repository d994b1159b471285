"""Past gate runs: each result is kept as ``$EVALKIT_HOME/gates/<gate_id>.json`` for ``evalkit gate explain``."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from evalkit.atomic import write_text_atomic
from evalkit.errors import GateError
from evalkit.gate.result import GateResult
from evalkit.home import evalkit_home


def gates_dir() -> Path:
    """The folder of stored gate results."""
    return evalkit_home() / "gates"


def save_gate_result(result: GateResult) -> Path:
    """Store a gate result atomically and return its path."""
    path = gates_dir() / f"{result.gate_id}.json"
    write_text_atomic(path, result.model_dump_json(indent=2) + "\n")
    return path


def load_gate_result(reference: str) -> GateResult:
    """Load a stored gate result by id, unique id prefix, or ``latest``.

    Args:
        reference: the gate id (printed by ``evalkit gate``), a prefix of it, or ``latest``.

    Returns:
        The :class:`GateResult`.

    Raises:
        GateError: no stored result matches, several do, or the file is unreadable.
    """
    ids = sorted((path.stem for path in gates_dir().glob("*.json")), reverse=True) if gates_dir().is_dir() else []
    if reference == "latest" and ids:
        matches = ids[:1]
    else:
        matches = [gate_id for gate_id in ids if gate_id == reference] or [
            gate_id for gate_id in ids if gate_id.startswith(reference)]
    if not matches:
        raise GateError(f"no gate result {reference!r} in {gates_dir()}: give an id printed by `evalkit gate`")
    if len(matches) > 1:
        raise GateError(f"gate id prefix {reference!r} matches {len(matches)} results: give more of the id")
    path = gates_dir() / f"{matches[0]}.json"
    try:
        return GateResult.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValidationError) as error:
        raise GateError(f"gate result {path} is unreadable ({type(error).__name__}): it was damaged") from None
