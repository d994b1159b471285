"""Suites: named lists of tasks with per-task settings, stored as YAML (built-in ones live in this folder)."""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evalkit.errors import TaskError
from evalkit.rag import RagSettings
from guards.safety import SafetySettings

SUITES_DIR = Path(__file__).resolve().parent


class SuiteEntry(BaseModel):
    """One task of a suite and the settings it runs with (``None`` keeps the task's own default)."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(description="An lm-eval task, group or tag name, or a task YAML path.")
    limit: int | None = Field(default=None, gt=0, description="Score at most this many items.")
    num_fewshot: int | None = Field(default=None, ge=0)
    gen_kwargs: dict[str, int | float | str | bool] | None = Field(
        default=None, description="Overrides of the task's generation settings, e.g. {max_gen_toks: 64}.")


class Suite(BaseModel):
    """A named list of tasks, and optionally the safety suite's and the RAG task's settings."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    tasks: list[SuiteEntry] = Field(default_factory=list)
    safety: SafetySettings | None = Field(default=None, description="Run the safety suite with these settings.")
    rag: RagSettings | None = Field(default=None, description="Run the bundled RAG task with these settings.")

    @model_validator(mode="after")
    def _not_empty(self) -> Suite:
        if not self.tasks and self.safety is None and self.rag is None:
            raise ValueError("a suite needs tasks, a safety block or a rag block")
        return self

    @field_validator("tasks", mode="before")
    @classmethod
    def _accept_bare_names(cls, value: object) -> object:
        if isinstance(value, list):
            return [{"task": item} if isinstance(item, str) else item for item in value]
        return value


def builtin_suite_names() -> list[str]:
    """Return the names of the suites that ship with evalkit."""
    return sorted(path.stem for path in SUITES_DIR.glob("*.yaml"))


def load_suite(name_or_path: str) -> Suite:
    """Load a built-in suite by name or a suite YAML file; ``quick,safety`` combines several.

    A combination runs every task of each suite (in order, each task once) and the safety and rag blocks of the
    one suite that has each.

    Args:
        name_or_path: ``quick``, ``standard``, ``full``, or a path to a YAML file with ``name`` and ``tasks``.

    Returns:
        The validated :class:`Suite`.

    Raises:
        TaskError: unknown suite name (with the closest names) or a file that is not a valid suite.
    """
    if "," in name_or_path:
        return combine_suites([load_suite(part.strip()) for part in name_or_path.split(",") if part.strip()])
    path = Path(name_or_path)
    if not name_or_path.endswith((".yaml", ".yml")):
        path = SUITES_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            close = difflib.get_close_matches(name_or_path, builtin_suite_names(), n=3, cutoff=0.5)
            known = ", ".join(builtin_suite_names())
            hint = f"did you mean {', '.join(close)}?" if close else f"built-in suites: {known}"
            raise TaskError(f"unknown suite {name_or_path!r}: {hint}")
    if not path.is_file():
        raise TaskError(f"suite file {path} does not exist: check the path")
    try:
        return Suite.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as error:
        raise TaskError(f"suite file {path} is not valid YAML: fix its syntax") from error
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise TaskError(f"suite file {path} is invalid at {where}: {first['msg']}") from error


def combine_suites(suites: list[Suite]) -> Suite:
    """Merge suites into one named ``a+b``: all their tasks (first settings win for a repeated task) and their
    safety and rag blocks.

    Raises:
        TaskError: more than one suite has a safety block, or more than one a rag block.
    """
    with_safety = [suite for suite in suites if suite.safety is not None]
    with_rag = [suite for suite in suites if suite.rag is not None]
    for block, having in (("safety", with_safety), ("rag", with_rag)):
        if len(having) > 1:
            raise TaskError(f"suites {', '.join(suite.name for suite in having)} each have a {block} block: "
                            "combine at most one of them")
    tasks: dict[str, SuiteEntry] = {}
    for suite in suites:
        for entry in suite.tasks:
            tasks.setdefault(entry.task, entry)
    return Suite(name="+".join(suite.name for suite in suites),
                 description="; ".join(suite.description for suite in suites if suite.description),
                 tasks=list(tasks.values()), safety=with_safety[0].safety if with_safety else None,
                 rag=with_rag[0].rag if with_rag else None)
