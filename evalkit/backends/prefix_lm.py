"""``evalkit-prefix``: lm-eval's ``hf`` backend with each distinct context encoded once per loglikelihood call.

Multiple-choice tasks ask for ``log P(choice | context)`` for several choices of one context. lm-eval's ``HFLM``
runs ``context + choice`` through the model once per choice, right-padded to the longest in its batch, and
projects every position onto the vocabulary. :class:`PrefixSharingLM` groups requests by their context tokens and
lays each group out as a prefix tree in one row: the context once, then ``continuation[:-1]`` of each
continuation, with an attention mask that lets every continuation see the context and its own earlier tokens
only, and position ids that restart after the context for each continuation. The context's keys and values are
thus computed once and attended to by all of its continuations, in the same forward. Several groups share a row
(each attends only to itself), so almost no compute goes to padding, and only the positions that score a token
are projected onto the vocabulary: the context's last position (every continuation's first token) and the
continuation positions.

Contexts of different items often open with the same tokens: a task's description and few-shot examples. The
distinct contexts of a call are sorted and cut into runs that share a prefix of at least ``MIN_SHARED_PREFIX``
tokens, choosing the cuts that save the most tokens; each run's prefix is run through the model once
(:class:`~evalkit.prefix_cache.PrefixKV`) and its keys and values are expanded to every forward of the run, whose
rows then hold only what follows the prefix (position ids continue after it).

Each request gets what ``HFLM`` returns, ``(sum of token log-probabilities, whether every token was the argmax)``,
equal to it up to float rounding (within 1e-4 in float32 on the bundled tasks). ``HFLM`` itself scores requests
it would left-truncate (input longer than ``max_length``), very long ones (where sharing saves little and the
mask would be large), and every request of a model this layout does not fit: not causal, sliding-window or
hybrid layers, or an attention implementation other than ``sdpa``/``eager`` (flash kernels take no custom mask).
"""

from __future__ import annotations

import bisect
import inspect
import itertools
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

from evalkit.prefix_cache import PrefixKV, cache_argument, common_prefix

TokenRequest = tuple[Any, list[int], list[int]]
Answer = tuple[float, bool]

# Every query of a row is scored against every key of the row (the mask only zeroes pairs out), so attention
# cost grows with the square of the row width. Short units share rows of up to ROW_TOKENS tokens (enough to
# leave little padding; masked attention stays under ~10% of a small model's per-token cost), and a context with
# more continuations than fit in UNIT_TOKENS is split into several units that each repeat it (past that width,
# recomputing a context costs less than the masked attention of a wider row).
ROW_TOKENS = 256
UNIT_TOKENS = 1024
# Requests with more input tokens than this go to HFLM: their own tokens dominate the cost, and a custom mask of
# that size would be large.
LONG_INPUT_TOKENS = 2048
MASKABLE_ATTENTION = ("sdpa", "eager")
# A prefix shorter than this is recomputed in each row: one extra forward would cost more than it saves.
MIN_SHARED_PREFIX = 32
# Runs nested deeper than this (contexts that keep sharing ever longer prefixes) are not cut further.
MAX_SPLIT_DEPTH = 64


@dataclass
class _Unit:
    """A context and some of the requests that condition on it, laid out together in one row."""

    context: list[int]
    members: list[int]
    length: int  # tokens in the row: the context plus continuation[:-1] of each member


@register_model("evalkit-prefix")
class PrefixSharingLM(HFLM):
    """``HFLM`` that encodes each distinct context of a loglikelihood call once for all of its continuations.

    Built with the same arguments as ``HFLM``; only ``_loglikelihood_tokens`` differs, so ``loglikelihood``,
    ``loglikelihood_rolling`` and ``generate_until`` keep lm-eval's behaviour. A forward holds no more tokens
    than ``HFLM``'s largest batch would for the same call (``batch_size`` times the longest request).
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
        if not self._packs_prefixes:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        answers: list[Answer | None] = [None] * len(requests)
        limit = min(self.max_length, LONG_INPUT_TOKENS)
        to_hflm = [index for index, (_, context, continuation) in enumerate(requests)
                   if len(context) + len(continuation) - 1 > limit]
        if to_hflm:
            scored = super()._loglikelihood_tokens([requests[index] for index in to_hflm], disable_tqdm=True,
                                                   override_bs=override_bs)
            for index, answer in zip(to_hflm, scored, strict=True):
                answers[index] = answer
        ours = [index for index in range(len(requests)) if answers[index] is None]
        if not ours:
            return answers  # type: ignore[return-value]
        longest = max(len(requests[index][1]) + len(requests[index][2]) - 1 for index in ours)
        budget = self._resolved_batch_size(override_bs) * longest
        progress = tqdm(total=len(ours), disable=disable_tqdm or self.rank != 0,
                        desc="Running loglikelihood requests (shared prefixes)")
        with torch.inference_mode():
            for prefix, members in _prefix_groups(requests, ours):
                shared = self._prefix_kv(prefix) if prefix else None
                units = _units(requests, members, capacity=min(UNIT_TOKENS, budget), skip=len(prefix))
                for batch in _forward_batches(_pack(units, capacity=min(ROW_TOKENS, budget)), budget):
                    for index, answer in self._score_rows(batch, requests, shared):
                        answers[index] = answer
                        if requests[index][0] is not None:
                            self.cache_hook.add_partial("loglikelihood", requests[index][0], answer)
                        progress.update(1)
        progress.close()
        return answers  # type: ignore[return-value]

    @cached_property
    def _packs_prefixes(self) -> bool:
        """Whether prefix-tree rows fit this model: causal, full attention only, a mask-taking attention kernel."""
        if self.backend != "causal" or "position_ids" not in self._forward_parameters:
            return False
        config = self.model.config
        if getattr(config, "_attn_implementation", None) not in MASKABLE_ATTENTION:
            return False
        layers = DynamicCache(config=config).layers
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

    def _autocast(self) -> torch.autocast:
        return torch.autocast(device_type=self.device.type, dtype=self.mixed_precision_dtype,
                              enabled=self.mixed_precision_dtype is not None)

    def _prefix_kv(self, prefix: tuple[int, ...]) -> PrefixKV:
        """Run a shared prefix through the model once, under the same precision as the rows that follow it."""
        with self._autocast():
            return PrefixKV.compute(self.model, prefix)

    def _score_rows(self, rows: list[list[_Unit]], requests: list[TokenRequest],
                    shared: PrefixKV | None) -> Iterator[tuple[int, Answer]]:
        """Run one forward over packed rows (after the shared prefix, if any) and yield each member's answer."""
        offset = shared.length if shared else 0
        layout = _RowLayout.build(rows, requests, self.device, offset=offset)
        allowed, cache = layout.allowed, None
        if shared is not None:  # every row attends to the whole prefix
            batch, width, _ = allowed.shape
            allowed = torch.cat([torch.ones(batch, width, offset, dtype=torch.bool, device=self.device), allowed], 2)
            cache = shared.expanded(batch, self.model.config)
        logits = self._logits(layout.input_ids, self._attention_mask(allowed), layout.position_ids, layout.keep,
                              cache)
        logprobs = F.log_softmax(logits, dim=-1, dtype=self.softmax_dtype)  # [kept positions, vocab]
        picked = logprobs[layout.score_rows, layout.score_tokens]
        greedy = logprobs.argmax(dim=-1)[layout.score_rows] == layout.score_tokens
        for index, token_logprobs, token_greedy in zip(layout.requests, picked.split(layout.counts),
                                                       greedy.split(layout.counts), strict=True):
            yield index, (float(token_logprobs.sum()), bool(token_greedy.all()))

    def _attention_mask(self, allowed: torch.Tensor) -> torch.Tensor:
        """Turn ``[batch, query, key]`` booleans into the 4D mask the model's attention takes as-is."""
        if self.model.config._attn_implementation == "sdpa":
            return allowed[:, None]
        dtype = self.mixed_precision_dtype or self.model.dtype
        bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
        return bias.masked_fill(~allowed, torch.finfo(dtype).min)[:, None]

    def _logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                keep: torch.Tensor, cache: DynamicCache | None) -> torch.Tensor:
        """Run the model (after ``cache``, when given) and return ``[kept positions, vocab]`` logits for the
        ``[batch, width]`` mask ``keep``."""
        arguments: dict[str, Any] = {"attention_mask": attention_mask, "position_ids": position_ids,
                                     "use_cache": cache is not None}
        if cache is not None:
            arguments[cache_argument(self.model)] = cache
        native_keep = "logits_to_keep" in self._forward_parameters
        if native_keep:
            arguments["logits_to_keep"] = keep
        with self._autocast():
            logits = self.model(input_ids, **arguments).logits
        return logits if native_keep else logits[keep]


@dataclass
class _RowTokens:
    """Per-token columns of one packed row: token id, unit id, segment (0 the context, 1.. a continuation) and
    position id, and whether its logits score a token."""

    tokens: list[int] = field(default_factory=list)
    units: list[int] = field(default_factory=list)
    segments: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    keep: list[bool] = field(default_factory=list)

    def extend(self, tokens: list[int], *, unit: int, segment: int, first_position: int, keep: bool) -> int:
        """Append a segment and return the column of its first token."""
        start = len(self.tokens)
        self.tokens += tokens
        self.units += [unit] * len(tokens)
        self.segments += [segment] * len(tokens)
        self.positions += range(first_position, first_position + len(tokens))
        self.keep += [keep] * len(tokens)
        return start

    def pad_to(self, width: int) -> None:
        """Right-pad with tokens of their own unit and segment (-1): padding attends to padding only, so no
        query is fully masked, and no real token attends to padding."""
        self.extend([0] * (width - len(self.tokens)), unit=-1, segment=-1, first_position=0, keep=False)


@dataclass
class _RowLayout:
    """The tensors of one forward over packed rows, and which kept position scores which request token.

    ``score_rows[i]`` indexes the kept positions (row-major over ``keep``, the order in which the model returns
    their logits) and ``score_tokens[i]`` is the token it scores; the scored tokens of ``requests[k]`` are the
    next ``counts[k]`` entries, in continuation order.
    """

    input_ids: torch.Tensor  # [batch, width]
    position_ids: torch.Tensor  # [batch, width]
    allowed: torch.Tensor  # [batch, width, width]: query may attend to key
    keep: torch.Tensor  # [batch, width]
    score_rows: torch.Tensor
    score_tokens: torch.Tensor
    requests: list[int]
    counts: list[int]

    @classmethod
    def build(cls, rows: list[list[_Unit]], requests: list[TokenRequest], device: torch.device, *,
              offset: int = 0) -> _RowLayout:
        """Lay out each unit as its context then ``continuation[:-1]`` of each member, with position ids that
        start at ``offset`` (the shared prefix before the rows) and restart after the context for every
        continuation."""
        columns = [_RowTokens() for _ in rows]
        cells: list[tuple[int, int, int]] = []  # (row, column, token scored there), request after request
        order, counts = [], []
        unit_id = 0
        for row_index, (row, row_tokens) in enumerate(zip(rows, columns, strict=True)):
            for unit in row:
                start = row_tokens.extend(unit.context, unit=unit_id, segment=0, first_position=offset, keep=False)
                last = start + len(unit.context) - 1
                row_tokens.keep[last] = True
                for segment, index in enumerate(unit.members, start=1):
                    continuation = requests[index][2]
                    first = row_tokens.extend(continuation[:-1], unit=unit_id, segment=segment,
                                              first_position=offset + len(unit.context), keep=True)
                    cells.append((row_index, last, continuation[0]))
                    cells += [(row_index, first + offset, token) for offset, token in enumerate(continuation[1:])]
                    order.append(index)
                    counts.append(len(continuation))
                unit_id += 1
        width = max(len(row_tokens.tokens) for row_tokens in columns)
        for row_tokens in columns:
            row_tokens.pad_to(width)
        return cls._tensors(columns, cells, order, counts, device)

    @classmethod
    def _tensors(cls, columns: list[_RowTokens], cells: list[tuple[int, int, int]], order: list[int],
                 counts: list[int], device: torch.device) -> _RowLayout:
        def stacked(name: str) -> torch.Tensor:
            return torch.tensor([getattr(row_tokens, name) for row_tokens in columns], device=device)

        unit, segment, position, keep = stacked("units"), stacked("segments"), stacked("positions"), stacked("keep")
        allowed = ((unit[:, :, None] == unit[:, None, :])
                   & ((segment[:, None, :] == 0) | (segment[:, :, None] == segment[:, None, :]))
                   & (position[:, None, :] <= position[:, :, None]))
        kept_number = torch.full(keep.shape, -1, dtype=torch.long, device=device)
        kept_number[keep] = torch.arange(int(keep.sum()), device=device)
        row, column, token = (torch.tensor(values, device=device) for values in zip(*cells, strict=True))
        return cls(input_ids=stacked("tokens"), position_ids=position, allowed=allowed, keep=keep,
                   score_rows=kept_number[row, column], score_tokens=token, requests=order, counts=counts)


def _units(requests: list[TokenRequest], indices: list[int], *, capacity: int, skip: int = 0) -> list[_Unit]:
    """Group requests by context tokens (less the ``skip`` prefix tokens they all share); split a group whose
    continuations overflow ``capacity`` into several units (each repeats the context, and takes at least one
    continuation)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index in indices:
        _, context, continuation = requests[index]
        assert context and continuation, "lm-eval passes non-empty context and continuation tokens"
        groups.setdefault(tuple(context[skip:]), []).append(index)
    units = []
    for context, members in groups.items():
        members = sorted(members, key=lambda index: -len(requests[index][2]))
        unit = _Unit(list(context), [], len(context))
        for index in members:
            extra = len(requests[index][2]) - 1
            if unit.members and unit.length + extra > capacity:
                units.append(unit)
                unit = _Unit(list(context), [], len(context))
            unit.members.append(index)
            unit.length += extra
        units.append(unit)
    return units


def _prefix_groups(requests: list[TokenRequest], indices: list[int]) -> list[tuple[tuple[int, ...], list[int]]]:
    """Group requests by a context prefix of at least ``MIN_SHARED_PREFIX`` tokens that their contexts share (a
    prefix always leaves each context at least one token); requests without one form a group with prefix ``()``.

    Args:
        requests: the call's requests.
        indices: the requests to group.

    Returns:
        ``(prefix, request indices)`` per group.
    """
    by_context: dict[tuple[int, ...], list[int]] = {}
    for index in indices:
        by_context.setdefault(tuple(requests[index][1]), []).append(index)
    contexts = sorted(by_context)
    shared = [min(len(common_prefix([first, second])), len(first) - 1, len(second) - 1)
              for first, second in itertools.pairwise(contexts)]
    groups: dict[tuple[int, ...], list[int]] = {}
    for length, start, stop in _runs(shared, 0, len(contexts), depth=0):
        prefix = contexts[start][:length] if length >= MIN_SHARED_PREFIX else ()
        groups.setdefault(prefix, []).extend(index for context in contexts[start:stop] for index in by_context[context])
    return list(groups.items())


def _runs(shared: list[int], start: int, stop: int, *, depth: int) -> list[tuple[int, int, int]]:
    """Cut sorted contexts ``start:stop`` into runs ``(shared length, start, stop)`` that save the most tokens.

    ``shared[i]`` is what contexts ``i`` and ``i + 1`` share; a run shares the minimum over its neighbours, and a
    run of ``n`` contexts sharing ``L`` tokens saves ``(n - 1) * L``. The range is cut where its neighbours share
    least when the pieces, cut further the same way, save more than the whole range would (always when it shares
    less than ``MIN_SHARED_PREFIX``).
    """
    if stop - start == 1:
        return [(0, start, stop)]
    low = min(shared[start:stop - 1])
    if depth >= MAX_SPLIT_DEPTH:
        return [(low, start, stop)]
    cuts = [start] + [position + 1 for position in range(start, stop - 1) if shared[position] == low] + [stop]
    pieces = [run for begin, end in itertools.pairwise(cuts) for run in _runs(shared, begin, end, depth=depth + 1)]
    saved = sum((end - begin - 1) * length for length, begin, end in pieces if length >= MIN_SHARED_PREFIX)
    if low < MIN_SHARED_PREFIX or saved > (stop - start - 1) * low:
        return pieces
    return [(low, start, stop)]


def _pack(units: list[_Unit], *, capacity: int) -> list[list[_Unit]]:
    """Best-fit-decreasing packing of units into rows of ``capacity`` tokens (a longer unit gets its own row);
    rows come out longest first."""
    rows: list[list[_Unit]] = []
    by_room: list[tuple[int, int]] = []  # (free tokens, row index), ascending
    for unit in sorted(units, key=lambda unit: (-unit.length, unit.context)):
        slot = bisect.bisect_left(by_room, (unit.length, -1))
        if slot < len(by_room):
            free, row_index = by_room.pop(slot)
            rows[row_index].append(unit)
        else:
            free, row_index = capacity, len(rows)
            rows.append([unit])
        if free - unit.length > 0:
            bisect.insort(by_room, (free - unit.length, row_index))
    return sorted(rows, key=lambda row: -sum(unit.length for unit in row))


def _forward_batches(rows: list[list[_Unit]], budget: int) -> Iterator[list[list[_Unit]]]:
    """Group rows (longest first) into forwards of at most ``budget`` padded tokens, at least one row each."""
    batch: list[list[_Unit]] = []
    for row in rows:
        width = sum(unit.length for unit in (batch[0] if batch else row))
        if batch and (len(batch) + 1) * width > budget:
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch
