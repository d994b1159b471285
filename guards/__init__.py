"""Safety scorers behind one protocol: ``Guard.score(conversations) -> list[Verdict]``.

Registered guards: ``llama-guard-3``, ``llama-guard-3-1b``, ``llama-guard-2``, ``shieldgemma``, ``wildguard`` (the
published prompt formats, byte for byte; probabilities read from decision-token logits) and ``reference`` (the
embedded default: MiniLM embeddings plus a calibrated classifier trained on exemplars written for evalkit).
"""

from guards._conversation import Conversation, Turn, conversation, last_exchange, mode_of
from guards._registry import (
    Guard,
    GuardEntry,
    GuardOptions,
    guard_entry,
    guard_names,
    load_guard,
    parse_guard_option,
    register,
    render_prompt,
)
from guards._verdict import Category, Verdict, label_for

__all__ = ["Category", "Conversation", "Guard", "GuardEntry", "GuardOptions", "Turn", "Verdict", "conversation",
           "guard_entry", "guard_names", "label_for", "last_exchange", "load_guard", "mode_of", "parse_guard_option",
           "register", "render_prompt"]
