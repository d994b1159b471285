"""What the model-based guards share: loading weights, checking the tokenizer, and batched forwards that encode
the prompt preamble once.

Every guard prompt opens with a long fixed preamble (the task and the category list) before the conversation.
:class:`BatchRunner` runs the preamble through the model once per guard instance, keeps its keys and values, and
for each batch expands them to the batch and runs only the rows' remaining tokens (the suffixes), right-padded
(or left-padded, as the tokenizer says) with an attention mask over preamble + suffix and explicit position ids,
so a row's logits equal those of its full prompt run alone. :class:`DecodeState` continues greedily from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from transformers import DynamicCache

from evalkit.checkpoints import load_transformers, resolve
from evalkit.checkpoints._load import default_device, resolve_dtype
from evalkit.errors import GuardError
from evalkit.prefix_cache import PrefixKV, cache_argument, common_prefix
from guards._conversation import Conversation, Turn
from guards._registry import GuardOptions

Result = TypeVar("Result")
Judge = Callable[[list[int], "DecodeState"], list[Result]]

# Two conversations per mode that differ from their first character on: the common token prefix of their prompts
# is the preamble that every conversation of that mode shares.
_PROBES: tuple[tuple[Conversation, Conversation], ...] = (
    ((Turn(role="user", content="a"),), (Turn(role="user", content="b"),)),
    ((Turn(role="user", content="a"), Turn(role="assistant", content="c")),
     (Turn(role="user", content="b"), Turn(role="assistant", content="c"))),
)


def open_guard(guard: str, checkpoint: str, options: GuardOptions, *, special_tokens: Sequence[str],
               reuse_prefix: bool) -> tuple[Any, BatchRunner]:
    """Load a guard's checkpoint on ``options.device`` in ``options.dtype`` and check its tokenizer.

    Args:
        guard: the guard's name, for error messages.
        checkpoint: any evalkit checkpoint spec.
        options: the guard's settings (device, dtype).
        special_tokens: tokens of the guard's prompt format that its tokenizer must have as single tokens.
        reuse_prefix: whether the runner reuses the preamble's KV cache.

    Returns:
        ``(tokenizer, runner)``, the runner holding the model in eval mode.

    Raises:
        GuardError: the checkpoint is an endpoint, or its tokenizer lacks one of ``special_tokens``.
    """
    device = options.device or default_device()
    spec = resolve(checkpoint)
    if spec.kind == "openai":
        raise GuardError(f"{guard} reads decision-token logits, so it needs local weights, not endpoint "
                         f"{checkpoint}: give a model folder or hub id")
    model, tokenizer = load_transformers(spec, dtype=resolve_dtype(options.dtype, device), device=device)
    require_special_tokens(tokenizer, special_tokens, guard=guard, checkpoint=checkpoint)
    pad = next((token for token in (tokenizer.pad_token_id, tokenizer.eos_token_id) if token is not None), 0)
    return tokenizer, BatchRunner(model, pad_id=pad, padding_side=tokenizer.padding_side, reuse_prefix=reuse_prefix)


def require_special_tokens(tokenizer: Any, tokens: Sequence[str], *, guard: str, checkpoint: str) -> None:
    """Check that each of ``tokens`` is one token of ``tokenizer``, as in the guard's own tokenizer.

    Raises:
        GuardError: a token is missing (the checkpoint is not this guard's).
    """
    for token in tokens:
        ids = tokenizer.encode(token, add_special_tokens=False)
        if len(ids) != 1 or tokenizer.convert_ids_to_tokens(ids[0]) != token:
            raise GuardError(f"{guard}: the tokenizer of {checkpoint} has no {token} token, so it is not a {guard} "
                             f"checkpoint: give --guard {guard}=CHECKPOINT with the guard's own weights")


def single_token_id(tokenizer: Any, text: str, *, guard: str, after: str = "") -> int:
    """Return the id of the one token that ``text`` encodes to when it follows ``after``.

    Args:
        tokenizer: the guard's tokenizer.
        text: a decision word, such as ``unsafe`` or `` yes``.
        guard: the guard's name, for error messages.
        after: the text it follows in the guard's output (the encoding of ``after`` must be a prefix).

    Returns:
        The token id.

    Raises:
        GuardError: ``text`` is not a single token there.
    """
    context = tokenizer.encode(after, add_special_tokens=False) if after else []
    ids = tokenizer.encode(after + text, add_special_tokens=False)
    if len(ids) != len(context) + 1 or ids[:len(context)] != context:
        raise GuardError(f"{guard}: the tokenizer has no single token for the decision word {text!r}, so its "
                         f"probability cannot be read: give the guard's own checkpoint")
    return ids[-1]


def first_of_two(logits: torch.Tensor, first: int, second: int) -> torch.Tensor:
    """Return P(first) from the softmax over just the two tokens' logits (``logits[..., vocab]`` -> ``[...]``)."""
    return torch.softmax(logits[..., [first, second]].float(), dim=-1)[..., 0]


@dataclass
class DecodeState:
    """A batch after its prompts: the KV cache, the attention mask over its columns, and the next-token logits.

    Attributes:
        runner: the runner that holds the model.
        cache: the batch's ``DynamicCache``.
        attention_mask: ``[batch, columns]``, zero over padding.
        next_position: ``[batch]``, the position id of each row's next token.
        logits: ``[batch, vocab]`` float32, the next-token logits after each row's last real token.
    """

    runner: BatchRunner
    cache: Any
    attention_mask: torch.Tensor
    next_position: torch.Tensor
    logits: torch.Tensor

    def select(self, rows: Sequence[int]) -> DecodeState:
        """Keep only ``rows`` (indices into this batch); this state's cache is shared with the result."""
        index = torch.tensor(list(rows), device=self.attention_mask.device)
        self.cache.batch_select_indices(index)
        return DecodeState(self.runner, self.cache, self.attention_mask[index], self.next_position[index],
                           self.logits[index])

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per row and return the new next-token logits (also kept in ``logits``).

        Args:
            tokens: ``[batch]`` token ids.

        Returns:
            ``[batch, vocab]`` float32 logits.
        """
        ones = torch.ones_like(self.attention_mask[:, :1])
        self.attention_mask = torch.cat([self.attention_mask, ones], dim=1)
        logits, self.cache = self.runner.forward(tokens[:, None].to(self.attention_mask.device), self.cache,
                                                 attention_mask=self.attention_mask,
                                                 position_ids=self.next_position[:, None])
        self.next_position = self.next_position + 1
        self.logits = logits[:, -1].float()
        return self.logits


def greedy_decode(state: DecodeState, max_new_tokens: int, stop_ids: Sequence[int]) -> tuple[list[list[int]],
                                                                                              torch.Tensor]:
    """Decode greedily from ``state`` until every row emits a stop token or ``max_new_tokens`` are out.

    Args:
        state: the batch after its prompts (advanced in place).
        max_new_tokens: the most tokens to generate per row.
        stop_ids: tokens that end a row's output (not included in it).

    Returns:
        ``(tokens, step_logits)``: each row's generated tokens, and ``[steps, batch, vocab]`` float32 logits, where
        ``step_logits[t, row]`` are the logits that token ``t`` of the row was chosen from.
    """
    stops = torch.tensor(list(stop_ids), dtype=torch.long, device=state.logits.device)
    finished = torch.zeros(state.logits.shape[0], dtype=torch.bool, device=state.logits.device)
    chosen, step_logits = [], []
    for step in range(max_new_tokens):
        step_logits.append(state.logits)
        token = state.logits.argmax(dim=-1)
        chosen.append(token)
        finished |= torch.isin(token, stops)
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        state.step(token)
    rows = torch.stack(chosen, dim=1).tolist()
    stop_set = set(stop_ids)
    cut = [next((index for index, token in enumerate(row) if token in stop_set), len(row)) for row in rows]
    return [row[:end] for row, end in zip(rows, cut, strict=True)], torch.stack(step_logits)


class BatchRunner:
    """Runs token rows through a causal LM in batches, computing each registered preamble's KV cache once.

    Args:
        model: the causal LM.
        pad_id: the token that fills padding (never attended to).
        padding_side: ``right`` or ``left``; scores do not depend on it.
        reuse_prefix: start batches from the cached preamble (``False``: recompute every row in full).
    """

    def __init__(self, model: Any, *, pad_id: int, padding_side: str = "right", reuse_prefix: bool = True) -> None:
        self.model = model
        self.pad_id = pad_id
        self.padding_side = padding_side
        self.reuse_prefix = reuse_prefix
        self._cache_name = cache_argument(model)
        self._preambles: dict[tuple[int, ...], PrefixKV | None] = {}

    def add_preambles(self, encode: Callable[[Conversation], list[int]]) -> None:
        """Register the preamble of each conversation mode: the tokens that two probe conversations' prompts share.

        Args:
            encode: the guard's conversation-to-tokens function.
        """
        for pair in _PROBES:
            self.add_preamble(common_prefix([encode(conv) for conv in pair]))

    def add_preamble(self, ids: Sequence[int]) -> None:
        """Register a token prefix that many rows share; its KV cache is computed on first use."""
        # A sliding-window layer keeps only its window of the preamble, which could not be re-expanded exactly.
        window = min((getattr(layer, "sliding_window", len(ids) + 1)
                      for layer in DynamicCache(config=self.model.config).layers), default=len(ids) + 1)
        if self.reuse_prefix and 0 < len(ids) < window:
            self._preambles.setdefault(tuple(ids), None)

    def map(self, rows: Sequence[Sequence[int]], batch_size: int, judge: Judge) -> list[Result]:
        """Run ``rows`` in batches and return ``judge``'s result for each row, in row order.

        Args:
            rows: full prompts as token ids.
            batch_size: rows per forward.
            judge: called with each batch's row indices and :class:`DecodeState`; returns one result per row.

        Returns:
            One result per row.
        """
        results: list[Any] = [None] * len(rows)
        for indices, state in self._batches(rows, batch_size):
            for index, result in zip(indices, judge(indices, state), strict=True):
                results[index] = result
        return results

    def _batches(self, rows: Sequence[Sequence[int]], batch_size: int) -> Iterator[tuple[list[int], DecodeState]]:
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, row in enumerate(rows):
            groups.setdefault(self._preamble_of(row), []).append(index)
        for preamble, members in groups.items():
            members.sort(key=lambda index: len(rows[index]))  # similar lengths together: less padding
            for start in range(0, len(members), batch_size):
                chunk = members[start:start + batch_size]
                yield chunk, self.prefill([rows[index] for index in chunk], preamble)

    def _preamble_of(self, row: Sequence[int]) -> tuple[int, ...]:
        fitting = [preamble for preamble in self._preambles
                   if len(preamble) < len(row) and tuple(row[:len(preamble)]) == preamble]
        return max(fitting, key=len, default=())

    @torch.inference_mode()
    def prefill(self, rows: Sequence[Sequence[int]], preamble: Sequence[int] = ()) -> DecodeState:
        """Run ``rows`` (each starting with ``preamble``) and return the batch's state after them.

        Args:
            rows: full prompts as token ids, each longer than ``preamble``.
            preamble: a registered preamble (its cached KV is reused) or ``()`` to run the rows in full.

        Returns:
            The :class:`DecodeState`, with the logits after each row's last token.
        """
        device = self.model.device
        start = len(preamble)
        lengths = torch.tensor([len(row) - start for row in rows], device=device)
        width = int(lengths.max())
        columns = torch.arange(width, device=device)
        offsets = width - lengths if self.padding_side == "left" else torch.zeros_like(lengths)
        real = (columns >= offsets[:, None]) & (columns < (offsets + lengths)[:, None])
        input_ids = torch.full(real.shape, self.pad_id, dtype=torch.long, device=device)
        input_ids[real] = torch.tensor([token for row in rows for token in row[start:]], device=device)
        position_ids = torch.where(real, start + columns - offsets[:, None], 0)
        attention_mask = torch.cat([torch.ones(len(rows), start, dtype=torch.long, device=device), real.long()], 1)
        last = offsets + lengths - 1
        keep = torch.unique(last)  # only the positions read are projected onto the vocabulary
        logits, cache = self.forward(input_ids, self._expanded_cache(tuple(preamble), len(rows)),
                                     attention_mask=attention_mask, position_ids=position_ids, logits_to_keep=keep)
        last_logits = logits[torch.arange(len(rows), device=device), torch.searchsorted(keep, last)].float()
        return DecodeState(self, cache, attention_mask, start + lengths, last_logits)

    def forward(self, input_ids: torch.Tensor, cache: Any, **arguments: Any) -> tuple[torch.Tensor, Any]:
        """Run the model on ``input_ids`` after ``cache`` (``None``: a fresh one).

        Args:
            input_ids: ``[batch, tokens]``.
            cache: the KV cache to extend.
            **arguments: other forward arguments (attention mask, position ids, ``logits_to_keep``).

        Returns:
            ``(logits, cache)``.
        """
        output = self.model(input_ids=input_ids, use_cache=True, **{self._cache_name: cache}, **arguments)
        return output.logits, getattr(output, self._cache_name)

    def _expanded_cache(self, preamble: tuple[int, ...], batch: int) -> DynamicCache:
        if not preamble:
            return DynamicCache(config=self.model.config)
        stored = self._preambles[preamble]
        if stored is None:
            stored = self._preambles[preamble] = PrefixKV.compute(self.model, preamble)
        return stored.expanded(batch, self.model.config)
