"""A token prefix that many inputs share, run through a causal LM once: its per-layer keys and values, handed to
every later batched forward as a ``DynamicCache`` that starts with them. Used by the scoring backend (few-shot
prefixes shared across items) and the guards (the category list shared by every prompt)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache


def cache_argument(model: Any) -> str:
    """The name of the forward's KV-cache argument (transformers 5 renamed ``past_key_values`` to ``cache``)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def common_prefix(rows: Sequence[Sequence[int]]) -> list[int]:
    """Return the longest token prefix that all ``rows`` share."""
    prefix = list(rows[0])
    for row in rows[1:]:
        length = 0
        while length < min(len(prefix), len(row)) and prefix[length] == row[length]:
            length += 1
        prefix = prefix[:length]
    return prefix


@dataclass(frozen=True)
class PrefixKV:
    """The keys and values of every layer after a token prefix (batch 1).

    Attributes:
        layers: ``(keys, values)`` per layer, each ``[1, heads, tokens, head_dim]``.
        length: the prefix's tokens.
    """

    layers: list[tuple[torch.Tensor, torch.Tensor]]
    length: int

    @classmethod
    @torch.inference_mode()
    def compute(cls, model: Any, ids: Sequence[int]) -> PrefixKV:
        """Run ``ids`` through ``model`` once (positions 0..n-1) and keep its KV cache.

        Args:
            model: a causal LM whose layers all keep full-length caches.
            ids: the prefix tokens.

        Returns:
            The prefix's keys and values.
        """
        inputs = torch.tensor([list(ids)], device=model.device)
        output = model(input_ids=inputs, use_cache=True, logits_to_keep=1)
        cache = getattr(output, cache_argument(model))
        return cls([(layer.keys, layer.values) for layer in cache.layers], len(ids))

    def expanded(self, batch: int, config: Any) -> DynamicCache:
        """A fresh cache for a batch of ``batch`` rows that all start with the prefix.

        ``expand`` shares memory; the cache's first concatenation copies, so the stored prefix never changes and
        may be expanded again.
        """
        return DynamicCache([(keys.expand(batch, -1, -1, -1), values.expand(batch, -1, -1, -1))
                             for keys, values in self.layers], config=config)
