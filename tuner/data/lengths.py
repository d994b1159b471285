"""Example lengths in tokens of the model that will be trained: what the trainer sees, so truncation is visible
before training. A chat is measured through the tokenizer's chat template when it has one; prompt and answer are
measured together; a DPO pair by its longer answer."""

from __future__ import annotations

from typing import Any

import numpy as np

from tuner.data.report import Finding, counted
from tuner.data.schema import Example


def token_length(example: Example, tokenizer: Any, *, chat: bool) -> int:
    """Tokens of one example as the trainer will see it (without padding); ``chat`` for the messages layout."""
    if chat and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(example.chat(), tokenize=False)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])
    answers = [example.response] + ([example.rejected] if example.rejected else [])
    return max(len(tokenizer(example.prompt + answer)["input_ids"]) for answer in answers)


def length_findings(examples: list[Example], tokenizer: Any, *, max_length: int, unit: str,
                    chat: bool) -> tuple[dict[str, float], list[Finding]]:
    """Length statistics and a warning for examples longer than ``max_length`` (the trainer truncates them).

    Args:
        examples: the valid examples.
        tokenizer: the target model's tokenizer.
        max_length: the training sequence length.
        unit: ``line`` or ``row``.
        chat: the examples are chats (measured through the chat template when the tokenizer has one).

    Returns:
        ``{"min", "mean", "median", "p95", "max"}`` in tokens, and ``[]`` or one warning.
    """
    if not examples:
        return {}, []
    lengths = np.array([token_length(example, tokenizer, chat=chat) for example in examples])
    stats = {"min": float(lengths.min()), "mean": round(float(lengths.mean()), 2),
             "median": float(np.median(lengths)), "p95": round(float(np.percentile(lengths, 95)), 2),
             "max": float(lengths.max())}
    long = [example.position for example, length in zip(examples, lengths, strict=True) if length > max_length]
    if not long:
        return stats, []
    return stats, [Finding(check="length", severity="warning", positions=long,
                           message=f"{counted(len(long), unit)} longer than max_length {max_length} tokens (longest "
                                   f"{int(lengths.max())}), truncated in training; raise max_length or shorten them")]
