"""Greedy replies of a checkpoint to user messages, batched, through the lm-eval model that scores the other tasks
(so local checkpoints and OpenAI-compatible endpoints both work). The safety and RAG suites generate with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def render_chat(lm: Any, prompt: str, *, use_chat_template: bool) -> str:
    """The context string for one user message: the checkpoint's chat template when it has one, else the bare text."""
    if use_chat_template:
        return lm.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True)
    return prompt


def generate_replies(lm: Any, prompts: Sequence[str], *, max_new_tokens: int, use_chat_template: bool) -> list[str]:
    """Generate one greedy reply per prompt, stopping at the end-of-turn token or ``max_new_tokens``.

    Args:
        lm: an lm-eval ``LM`` (evalkit's backend, HFLM or an endpoint).
        prompts: the user messages.
        max_new_tokens: the reply length cap in tokens.
        use_chat_template: wrap each message in the checkpoint's chat template.

    Returns:
        The replies, stripped, in order.
    """
    from lm_eval.api.instance import Instance

    settings = {"until": [], "max_gen_toks": max_new_tokens, "do_sample": False, "temperature": 0.0}
    requests = [Instance(request_type="generate_until", doc={}, idx=index,
                         arguments=(render_chat(lm, prompt, use_chat_template=use_chat_template), dict(settings)))
                for index, prompt in enumerate(prompts)]
    return [reply.strip() for reply in lm.generate_until(requests, disable_tqdm=True)]
