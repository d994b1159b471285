"""Conversations as guards read them, validated once at the edge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from evalkit.errors import GuardError


class Turn(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant"]
    content: str


Conversation = tuple[Turn, ...]
Mode = Literal["prompt", "response"]


def conversation(turns: Sequence[Mapping[str, object]], *, where: str = "conversation") -> Conversation:
    """Validate a list of ``{"role", "content"}`` turns: non-empty, starting with ``user``, alternating
    user/assistant, every content a non-empty string.

    Args:
        turns: the turns as read from JSON.
        where: how to name this conversation in an error (for example ``line 3``).

    Returns:
        The validated conversation.

    Raises:
        GuardError: the conversation is empty or malformed.
    """
    if not isinstance(turns, Sequence) or isinstance(turns, str) or not turns:
        raise GuardError(f"{where} is empty: give a list of turns such as [{{\"role\": \"user\", \"content\": ...}}]")
    validated: list[Turn] = []
    for index, turn in enumerate(turns):
        expected = "user" if index % 2 == 0 else "assistant"
        role = turn.get("role") if isinstance(turn, Mapping) else None
        content = turn.get("content") if isinstance(turn, Mapping) else None
        if role != expected:
            raise GuardError(f"{where}: turn {index + 1} has role {role!r} but roles must alternate user/assistant "
                             f"starting with user: expected {expected!r}")
        if not isinstance(content, str) or not content.strip():
            raise GuardError(f"{where}: turn {index + 1} has no text content: give \"content\" as a non-empty string")
        validated.append(Turn(role=role, content=content))
    return tuple(validated)


def mode_of(conv: Conversation) -> Mode:
    """Return ``prompt`` when the last turn is the user's (classify the request), else ``response``."""
    return "prompt" if conv[-1].role == "user" else "response"


def last_exchange(conv: Conversation) -> tuple[str, str | None]:
    """Return the judged request and response: the last user turn and, in response mode, the reply after it."""
    if mode_of(conv) == "prompt":
        return conv[-1].content, None
    return conv[-2].content, conv[-1].content
