"""``evalkit-prefix``: lm-eval's ``hf`` backend with each distinct context encoded once per loglikelihood call.

Multiple-choice tasks ask for ``log P(choice | context)`` for several choices of one context. lm-eval's ``HFLM``
runs ``context + choice`` through the model once per choice and projects every position onto the vocabulary.
:class:`PrefixSharingLM` groups requests by their context tokens instead and scores them in two forwards per chunk:

* a context pass runs each distinct context once (several per forward, right-padded) with a KV cache and keeps
  only the logits of its last position, which score every continuation's first token;
* a continuation pass runs ``continuation[:-1]`` of every multi-token continuation against a copy of its
  context's cached keys and values (positions continue from the context's true length; context padding is
  masked out) and keeps only the logits of real continuation positions.

Each request gets what ``HFLM`` returns, ``(sum of token log-probabilities, whether every token was the argmax)``,
equal to it up to float rounding. Requests ``HFLM`` would left-truncate (context + continuation longer than
``max_length + 1`` tokens), and every request of a model whose cache is not all full-attention ``DynamicLayer``s
(sliding-window or hybrid layers, seq2seq models), go to ``HFLM`` unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM
from tqdm import tqdm
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

TokenRequest = tuple[Any, list[int], list[int]]
Answer = tuple[float, bool]

# A context pass holds this many contexts per `batch_size`: contexts are short next to the rows HFLM batches
# (context + continuation), and on a CPU fewer, fuller forwards are what makes the difference.
CONTEXTS_PER_BATCH = 4
ROWS_PER_BATCH = 4


@dataclass
class _ContextGroup:
    """One distinct context and the indices of the requests that condition on it."""

    context: list[int]
    members: list[int] = field(default_factory=list)


@dataclass
class _ContextPass:
    """What a context pass leaves for the continuation pass, for the contexts of one chunk."""

    last_logprobs: torch.Tensor  # [contexts, vocab]: log-probs of the token after each context
    cache: DynamicCache  # keys and values of the right-padded contexts
    padding_mask: torch.Tensor | None  # [contexts, width]; None when no context is padded
    lengths: torch.Tensor  # [contexts]: true context lengths


@register_model("evalkit-prefix")
class PrefixSharingLM(HFLM):
    """``HFLM`` that runs each distinct context of a loglikelihood call once and reuses its KV cache.

    Built with the same arguments as ``HFLM``; only ``_loglikelihood_tokens`` differs, so ``loglikelihood``,
    ``loglikelihood_rolling`` and ``generate_until`` keep lm-eval's behaviour. ``batch_size`` bounds both
    passes: a context pass holds up to ``4 * batch_size`` contexts and a continuation pass up to
    ``4 * batch_size`` continuations.
    """

    def _loglikelihood_tokens(self, requests: list[TokenRequest], disable_tqdm: bool = False,
                              override_bs: int | None = None) -> list[Answer]:
        """Score ``(request, context tokens, continuation tokens)`` triples as ``(log-prob sum, is greedy)``.

        Args:
            requests: what lm-eval's ``loglikelihood`` and ``loglikelihood_rolling`` pass down.
            disable_tqdm: hide the progress bar.
            override_bs: the batch size to use when ``batch_size`` is ``auto``.

        Returns:
            One answer per request, in request order.
        """
        if not self._shares_prefixes:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        answers: list[Answer | None] = [None] * len(requests)
        too_long = [index for index, (_, context, continuation) in enumerate(requests)
                    if len(context) + len(continuation) > self.max_length + 1]
        if too_long:
            truncated = super()._loglikelihood_tokens([requests[index] for index in too_long],
                                                      disable_tqdm=True, override_bs=override_bs)
            for index, answer in zip(too_long, truncated, strict=True):
                answers[index] = answer
        groups = _group_by_context(requests, skip=set(too_long))
        batch_size = self._resolved_batch_size(override_bs)
        progress = tqdm(total=len(requests) - len(too_long), disable=disable_tqdm or self.rank != 0,
                        desc="Running loglikelihood requests (shared prefixes)")
        with torch.inference_mode():
            for chunk in _chunks(groups, requests, CONTEXTS_PER_BATCH * batch_size, self.max_length):
                for index, answer in self._score_chunk(chunk, requests, ROWS_PER_BATCH * batch_size):
                    answers[index] = answer
                    if requests[index][0] is not None:
                        self.cache_hook.add_partial("loglikelihood", requests[index][0], answer)
                    progress.update(1)
        progress.close()
        return answers  # type: ignore[return-value]

    @cached_property
    def _shares_prefixes(self) -> bool:
        """Whether this model's cache can be copied row by row: a causal LM with only full-attention layers."""
        if self.backend != "causal":
            return False
        layers = DynamicCache(config=self.model.config).layers
        return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)

    @cached_property
    def _forward_parameters(self) -> frozenset[str]:
        return frozenset(inspect.signature(self.model.forward).parameters)

    def _resolved_batch_size(self, override_bs: int | None) -> int:
        if isinstance(self.batch_size, int):
            return self.batch_size
        if override_bs:
            return override_bs
        if not hasattr(self, "_detected_batch_size"):
            self._detected_batch_size = self._detect_batch_size()
        return self._detected_batch_size

    def _score_chunk(self, chunk: list[_ContextGroup], requests: list[TokenRequest],
                     rows_per_pass: int) -> Iterator[tuple[int, Answer]]:
        """Score every request of a chunk of context groups: one context pass, then continuation passes."""
        state = self._context_pass([group.context for group in chunk])
        last_argmax = state.last_logprobs.argmax(dim=-1).tolist()
        first_logprobs, first_greedy = {}, {}
        rows = []  # (request index, context slot) of multi-token continuations, longest first
        for slot, group in enumerate(chunk):
            for index in group.members:
                first_token = requests[index][2][0]
                first_logprobs[index] = state.last_logprobs[slot, first_token].reshape(1)
                first_greedy[index] = last_argmax[slot] == first_token
                if len(requests[index][2]) > 1:
                    rows.append((index, slot))
        rest: dict[int, tuple[torch.Tensor, bool]] = {}
        rows.sort(key=lambda row: -len(requests[row[0]][2]))
        for start in range(0, len(rows), rows_per_pass):
            batch = rows[start:start + rows_per_pass]
            continuations = [requests[index][2] for index, _ in batch]
            scored = self._continuation_pass(state, [slot for _, slot in batch], continuations)
            rest.update(zip([index for index, _ in batch], scored, strict=True))
        for group in chunk:
            for index in group.members:
                logprobs, greedy = first_logprobs[index], first_greedy[index]
                if index in rest:
                    logprobs = torch.cat([logprobs, rest[index][0]])
                    greedy = greedy and rest[index][1]
                yield index, (float(logprobs.sum()), greedy)

    def _context_pass(self, contexts: list[list[int]]) -> _ContextPass:
        lengths = torch.tensor([len(context) for context in contexts], device=self.device)
        width = int(lengths.max())
        padding_mask = None
        if bool((lengths < width).any()):
            padding_mask = (torch.arange(width, device=self.device) < lengths[:, None]).long()
        cache = DynamicCache(config=self.model.config)
        last_positions = (lengths - 1)[:, None]
        logits = self._logits(_right_pad(contexts, width, self.device), padding_mask, None, cache, last_positions)
        last_logprobs = F.log_softmax(logits.reshape(len(contexts), -1), dim=-1, dtype=self.softmax_dtype)
        return _ContextPass(last_logprobs, cache, padding_mask, lengths)

    def _continuation_pass(self, state: _ContextPass, slots: list[int],
                           continuations: list[list[int]]) -> list[tuple[torch.Tensor, bool]]:
        """Score tokens 2.. of each continuation after its context; returns (token log-probs, all greedy) each."""
        inputs = [continuation[:-1] for continuation in continuations]
        width = max(len(tokens) for tokens in inputs)
        index = torch.tensor(slots, device=self.device)
        cache = DynamicCache(ddp_cache_data=[(keys.index_select(0, index), values.index_select(0, index))
                                             for keys, values, _ in state.cache])
        steps = torch.arange(width, device=self.device)
        attention_mask = None
        if state.padding_mask is not None:
            # Right padding after a continuation cannot reach its real tokens in a causal model, so only the
            # context padding needs masking.
            ones = torch.ones(len(slots), width, dtype=state.padding_mask.dtype, device=self.device)
            attention_mask = torch.cat([state.padding_mask.index_select(0, index), ones], dim=1)
        positions = state.lengths.index_select(0, index)[:, None] + steps
        real = steps < torch.tensor([len(tokens) for tokens in inputs], device=self.device)[:, None]
        logits = self._logits(_right_pad(inputs, width, self.device), attention_mask, positions, cache, real)
        logprobs = F.log_softmax(logits, dim=-1, dtype=self.softmax_dtype)  # [real positions, vocab]
        targets = torch.tensor([token for continuation in continuations for token in continuation[1:]],
                               device=self.device)
        token_logprobs = logprobs.gather(1, targets[:, None])[:, 0]
        greedy = logprobs.argmax(dim=-1) == targets
        sizes = [len(tokens) for tokens in inputs]
        return [(part_logprobs, bool(part_greedy.all())) for part_logprobs, part_greedy
                in zip(token_logprobs.split(sizes), greedy.split(sizes), strict=True)]

    def _logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
                position_ids: torch.Tensor | None, cache: DynamicCache, keep: torch.Tensor) -> torch.Tensor:
        """Run the model and return the logits at ``keep``: ``[batch, k]`` positions, or a ``[batch, width]`` mask
        (then flattened to ``[kept, vocab]``); models without ``logits_to_keep`` are sliced after the fact."""
        cache_argument = "cache" if "cache" in self._forward_parameters else "past_key_values"
        arguments = {"attention_mask": attention_mask, "position_ids": position_ids, cache_argument: cache,
                     "use_cache": True}
        native_keep = "logits_to_keep" in self._forward_parameters
        if native_keep:
            arguments["logits_to_keep"] = keep
        with torch.autocast(device_type=self.device.type, dtype=self.mixed_precision_dtype,
                            enabled=self.mixed_precision_dtype is not None):
            logits = self.model(input_ids, **arguments).logits
        if native_keep:
            return logits
        if keep.dtype == torch.bool:
            return logits[keep]
        return torch.take_along_dim(logits, keep[..., None], dim=1)


def _group_by_context(requests: list[TokenRequest], *, skip: set[int]) -> list[_ContextGroup]:
    """Group request indices by context tokens, longest context first (so a chunk pads little)."""
    groups: dict[tuple[int, ...], _ContextGroup] = {}
    for index, (_, context, continuation) in enumerate(requests):
        if index in skip:
            continue
        assert context and continuation, "lm-eval passes non-empty context and continuation tokens"
        groups.setdefault(tuple(context), _ContextGroup(list(context))).members.append(index)
    return sorted(groups.values(), key=lambda group: (-len(group.context), group.context))


def _chunks(groups: list[_ContextGroup], requests: list[TokenRequest], contexts_per_pass: int,
            max_length: int) -> Iterator[list[_ContextGroup]]:
    """Split sorted groups into chunks of at most ``contexts_per_pass`` contexts whose padded cache plus any
    continuation stays within ``max_length`` tokens."""
    chunk: list[_ContextGroup] = []
    for group in groups:
        longest_continuation = max(len(requests[index][2]) for index in group.members)
        fits = not chunk or len(chunk[0].context) + longest_continuation - 1 <= max_length
        if chunk and (len(chunk) == contexts_per_pass or not fits):
            yield chunk
            chunk = []
        chunk.append(group)
    if chunk:
        yield chunk


def _right_pad(sequences: list[list[int]], width: int, device: torch.device) -> torch.Tensor:
    # The pad id is never attended to (masked, or after the real tokens) and its logits are dropped.
    padded = [list(tokens) + [0] * (width - len(tokens)) for tokens in sequences]
    return torch.tensor(padded, dtype=torch.long, device=device)
