"""Retrieval metrics from chunk ids: did the retriever find the chunks that support the reference answer?

- **hit_rate**: 1 when at least one supporting chunk is among the retrieved ones, else 0.
- **mrr**: the reciprocal rank of the first supporting chunk (1 at rank 1, 1/2 at rank 2, ..., 0 when none).
- **recall_at_k** (ragas' ``IDBasedContextRecall``): the share of the supporting chunks that were retrieved.
"""

from __future__ import annotations

from evalkit.rag._context import ItemScore, MetricContext
from evalkit.rag._samples import RagSample


def first_hit_rank(retrieved: list[str], relevant: set[str]) -> int | None:
    """The 1-based rank of the first relevant id, or ``None``."""
    return next((rank for rank, chunk_id in enumerate(retrieved, start=1) if chunk_id in relevant), None)


async def hit_rate(sample: RagSample, context: MetricContext) -> ItemScore:
    """1 when a supporting chunk was retrieved, else 0."""
    rank = first_hit_rank(sample.retrieved_ids or [], set(sample.reference_chunk_ids))
    return ItemScore(float(rank is not None), {"first_hit_rank": rank})


async def mrr(sample: RagSample, context: MetricContext) -> ItemScore:
    """The reciprocal rank of the first supporting chunk (0 when none was retrieved)."""
    rank = first_hit_rank(sample.retrieved_ids or [], set(sample.reference_chunk_ids))
    return ItemScore(1.0 / rank if rank else 0.0, {"first_hit_rank": rank})
