"""Reading the YAML files users write (policies, tuner and monitor configs, auth configs) with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from evalkit.errors import EvalkitError


def read_yaml_mapping(path: Path, *, what: str, error: type[EvalkitError], needs: str,
                      empty_ok: bool = False) -> dict[str, Any]:
    """Read a YAML file whose top level must be a mapping.

    Args:
        path: the file.
        what: how to name it in messages, e.g. ``policy`` or ``tune config``.
        error: the error class to raise.
        needs: what a valid file has at the top level, for the message on a non-mapping.
        empty_ok: an empty file reads as ``{}`` instead of an error.

    Returns:
        The mapping.

    Raises:
        EvalkitError: (of class ``error``) the file cannot be read, is not YAML, or is not a mapping.
    """
    try:
        raw = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except OSError as problem:
        raise error(f"cannot read {what} {path}: {problem.strerror or problem}; check the path") from None
    except (yaml.YAMLError, UnicodeDecodeError) as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{what} {path} is not valid YAML{where}: fix its syntax") from None
    if raw is None and empty_ok:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{what} {path} is not a mapping: {needs}")
    return raw


def first_error(error: ValidationError) -> tuple[tuple[str | int, ...], str, str]:
    """The first problem of a pydantic validation error: its location, its message without pydantic's
    ``Value error,`` prefix, and `` (and N more)`` when there are others."""
    first = error.errors()[0]
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return tuple(first["loc"]), str(first["msg"]).removeprefix("Value error, "), more
