"""The four metrics of the fine-tuning guide that no open library ships, computed without a generative model
unless a judge is given (then it confirms chunk attributions).

- **context_relevance**: the mean, over the retrieved chunks, of the cosine similarity between the question's and
  the chunk's embeddings, clipped to [0, 1] (Galileo's definition, per chunk).
- **completeness**: the share of the reference answer's content tokens that both the retrieved contexts and the
  answer contain: how much of the information the question needs was retrieved *and* used. The item's details
  also give the two halves (``context_coverage``, ``answer_coverage``) and the missing tokens.
- **chunk_attribution**: per chunk, attributed when some answer sentence and some chunk sentence have embedding
  cosine >= ``attribution_threshold`` (and, with a judge, the judge says the answer used the chunk); the item's
  value is the share of its chunks that are attributed. An empty answer attributes nothing.
- **chunk_utilization**: per attributed chunk, the share of the chunk's content tokens that appear in the answer;
  the item's value is the mean over its attributed chunks (undefined, so skipped, when none is attributed).

Content tokens are defined in :mod:`evalkit.rag._text`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from evalkit.rag._context import ItemScore, MetricContext, NotApplicable
from evalkit.rag._samples import RagSample
from evalkit.rag._text import content_tokens, sentences

ATTRIBUTION_PROMPT = (
    "Does the answer below use information from the passage? Reply with JSON only, either {{\"used\": true}} or "
    "{{\"used\": false}}.\n\nPassage: {passage}\n\nAnswer: {answer}\n\nJSON:"
)


class AttributionVerdict(BaseModel):
    """The judge's check of one chunk attribution."""

    used: bool


@dataclass(frozen=True)
class ChunkUse:
    """How one retrieved chunk relates to the answer.

    Attributes:
        chunk_id: the chunk's id, if known.
        support: the largest cosine similarity between an answer sentence and a chunk sentence.
        judge_used: the judge's verdict (``None`` when no judge checked it).
        attributed: whether the chunk influenced the answer.
        utilization: the share of the chunk's content tokens in the answer (0 when not attributed).
    """

    chunk_id: str | None
    support: float
    judge_used: bool | None
    attributed: bool
    utilization: float


def clipped_cosines(query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Cosine similarities of unit vectors ``rows`` to unit vector ``query``, clipped to [0, 1]."""
    return np.clip(rows @ query, 0.0, 1.0)


def token_share(part: Iterable[str], whole: frozenset[str]) -> float:
    """``|part ∩ whole| / |whole|`` (0 for an empty ``whole``)."""
    return len(whole.intersection(part)) / len(whole) if whole else 0.0


async def context_relevance(sample: RagSample, context: MetricContext) -> ItemScore:
    """Mean clipped cosine between the question and each retrieved chunk."""
    vectors = context.embeddings.vectors([sample.question, *sample.context_texts])
    per_chunk = clipped_cosines(vectors[0], vectors[1:])
    return ItemScore(float(per_chunk.mean()), {"per_chunk": per_chunk.tolist()})


async def completeness(sample: RagSample, context: MetricContext) -> ItemScore:
    """Share of the reference's content tokens found in both the contexts and the answer."""
    needed = content_tokens(sample.reference or "")
    if not needed:
        raise NotApplicable("the reference has no content words")
    in_contexts = needed & frozenset().union(*(content_tokens(text) for text in sample.context_texts))
    in_answer = needed & content_tokens(sample.answer)
    covered = in_contexts & in_answer
    return ItemScore(len(covered) / len(needed), {
        "context_coverage": len(in_contexts) / len(needed), "answer_coverage": len(in_answer) / len(needed),
        "missing": sorted(needed - covered)})


def chunk_support(answer_vectors: np.ndarray, chunk_vectors: np.ndarray) -> float:
    """The largest cosine between any answer sentence and any chunk sentence (0 for an empty answer)."""
    if answer_vectors.size == 0 or chunk_vectors.size == 0:
        return 0.0
    return float((answer_vectors @ chunk_vectors.T).max())


async def _judge_says_used(context: MetricContext, passage: str, answer: str) -> bool:
    prompt = ATTRIBUTION_PROMPT.format(passage=passage, answer=answer)
    verdict = await context.require_judge().agenerate(prompt, AttributionVerdict)
    return verdict.used


async def chunk_uses(sample: RagSample, context: MetricContext) -> list[ChunkUse]:
    """Attribution and utilization of each retrieved chunk (computed once per item, see :meth:`MetricContext.memo`).

    Raises:
        JudgeOutputError: the judge's check of a chunk did not parse (the whole item is then a judge failure).
    """
    async def compute() -> list[ChunkUse]:
        answer_sentences = sentences(sample.answer)
        answer_vectors = context.embeddings.vectors(answer_sentences)
        answer_tokens = content_tokens(sample.answer)
        uses = []
        for chunk in sample.contexts:
            support = chunk_support(answer_vectors, context.embeddings.vectors(sentences(chunk.text)))
            judged = None
            if support >= context.attribution_threshold and context.attribution_judge:
                judged = await _judge_says_used(context, chunk.text, sample.answer)
            attributed = support >= context.attribution_threshold and judged is not False
            share = token_share(answer_tokens, content_tokens(chunk.text)) if attributed else 0.0
            uses.append(ChunkUse(chunk.chunk_id, support, judged, attributed, share))
        return uses

    return await context.memo("chunk_uses", sample, compute)


def _chunk_details(uses: list[ChunkUse]) -> dict[str, object]:
    return {"chunks": [use.__dict__ for use in uses]}


async def chunk_attribution(sample: RagSample, context: MetricContext) -> ItemScore:
    """Share of the retrieved chunks that influenced the answer."""
    uses = await chunk_uses(sample, context)
    return ItemScore(sum(use.attributed for use in uses) / len(uses), _chunk_details(uses))


async def chunk_utilization(sample: RagSample, context: MetricContext) -> ItemScore:
    """Mean share of an attributed chunk's content that the answer uses."""
    uses = [use for use in await chunk_uses(sample, context) if use.attributed]
    if not uses:
        raise NotApplicable("no chunk is attributed to the answer")
    return ItemScore(sum(use.utilization for use in uses) / len(uses), _chunk_details(uses))
