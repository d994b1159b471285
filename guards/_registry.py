"""Guards registered by name, and the ``NAME[=CHECKPOINT]`` option that picks one."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from evalkit.errors import GuardError
from guards._conversation import Conversation
from guards._verdict import Verdict


@dataclass(frozen=True)
class GuardOptions:
    """Settings shared by every guard.

    Attributes:
        checkpoint: any ``evalkit score`` checkpoint spec holding the guard's weights (``None``: the default).
        threshold: ``unsafe_prob`` at or above which the label is ``unsafe``.
        categories: custom categories (code to name) replacing the default taxonomy, where the template allows.
        excluded: category codes left out of the prompt.
        policies: ShieldGemma policy names (or custom ``name: text`` guidelines) to score.
        device: a torch device, ``None`` for the default.
        dtype: ``auto`` or a torch dtype name.
        batch_size: conversations per forward pass.
    """

    checkpoint: str | None = None
    threshold: float = 0.5
    categories: dict[str, str] | None = None
    excluded: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    device: str | None = None
    dtype: str = "auto"
    batch_size: int = 8
    extra: dict[str, str] = field(default_factory=dict)


class Guard(Protocol):
    """A safety scorer: one verdict per conversation, same order."""

    name: str

    def score(self, conversations: Sequence[Conversation]) -> list[Verdict]:
        """Score each conversation's last turn (a lone user turn: the request; user + assistant: the response)."""
        ...


Renderer = Callable[[Conversation, GuardOptions], str]
Builder = Callable[[GuardOptions], Guard]


@dataclass(frozen=True)
class GuardEntry:
    """A registered guard: how to build it, how to render its prompt without weights, where its weights live."""

    name: str
    summary: str
    default_checkpoint: str | None
    build: Builder
    render: Renderer


_REGISTRY: dict[str, GuardEntry] = {}


def register(entry: GuardEntry) -> GuardEntry:
    """Add a guard to the registry (module import time) and return it."""
    _REGISTRY[entry.name] = entry
    return entry


def guard_names() -> list[str]:
    """Return the registered guard names, sorted."""
    _import_builtin()
    return sorted(_REGISTRY)


def guard_entry(name: str) -> GuardEntry:
    """Return a registered guard by name.

    Raises:
        GuardError: no guard has that name.
    """
    _import_builtin()
    if name not in _REGISTRY:
        raise GuardError(f"unknown guard {name!r}: use one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def parse_guard_option(option: str) -> tuple[str, str | None]:
    """Split ``NAME[=CHECKPOINT]`` into the guard name and the checkpoint spec (``None`` when not given)."""
    name, _, checkpoint = option.partition("=")
    if not name.strip() or ("=" in option and not checkpoint.strip()):
        raise GuardError(f"--guard {option!r} is malformed: write NAME or NAME=CHECKPOINT, e.g. llama-guard-3=./lg3")
    return name.strip(), checkpoint.strip() or None


def load_guard(option: str, options: GuardOptions | None = None) -> Guard:
    """Build the guard that ``--guard NAME[=CHECKPOINT]`` names, loading its weights.

    Args:
        option: ``NAME`` or ``NAME=CHECKPOINT``.
        options: the other settings; its ``checkpoint`` is overridden by the one in ``option``.

    Returns:
        A ready guard.
    """
    name, checkpoint = parse_guard_option(option)
    entry = guard_entry(name)
    base = options or GuardOptions()
    settings = GuardOptions(**{**base.__dict__, "checkpoint": checkpoint or base.checkpoint or entry.default_checkpoint})
    return entry.build(settings)


def render_prompt(option: str, conv: Conversation, options: GuardOptions | None = None) -> str:
    """Return the exact prompt string a guard builds for ``conv``, without loading weights."""
    name, _ = parse_guard_option(option)
    return guard_entry(name).render(conv, options or GuardOptions())


def _import_builtin() -> None:
    """Import the modules whose import registers the built-in guards."""
    for module in ("guards.llama_guard", "guards.reference", "guards.shieldgemma", "guards.wildguard"):
        importlib.import_module(module)
