"""ragas' own metrics, called per item (``ascore`` of the 0.4 collections; ``single_turn_ascore`` for the non-LLM
metrics that exist only in the legacy API): nothing here re-implements a ragas formula.

LLM metrics get the run's judge and embedder. ``answer_relevancy`` runs with ``strictness=1``: the judge decodes
greedily, so ragas' default of three generated questions would be three identical calls.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from evalkit.rag._context import ItemScore, MetricContext, Scorer
from evalkit.rag._samples import RagSample

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # ragas' usage analytics would call out to the network


def _faithfulness(context: MetricContext) -> Any:
    from ragas.metrics.collections import Faithfulness

    return Faithfulness(llm=context.require_judge())


def _answer_relevancy(context: MetricContext) -> Any:
    from ragas.metrics.collections import AnswerRelevancy

    return AnswerRelevancy(llm=context.require_judge(), embeddings=context.embeddings, strictness=1)


def _context_precision(context: MetricContext) -> Any:
    from ragas.metrics.collections import ContextPrecision

    return ContextPrecision(llm=context.require_judge())


def _context_recall(context: MetricContext) -> Any:
    from ragas.metrics.collections import ContextRecall

    return ContextRecall(llm=context.require_judge())


def _answer_correctness(context: MetricContext) -> Any:
    from ragas.metrics.collections import AnswerCorrectness

    return AnswerCorrectness(llm=context.require_judge(), embeddings=context.embeddings)


def _string_similarity(context: MetricContext) -> Any:
    from ragas.metrics.collections import NonLLMStringSimilarity

    return NonLLMStringSimilarity()


def _non_llm_context_precision(context: MetricContext) -> Any:
    from ragas.metrics import NonLLMContextPrecisionWithReference

    return NonLLMContextPrecisionWithReference()


def _non_llm_context_recall(context: MetricContext) -> Any:
    from ragas.metrics import NonLLMContextRecall

    return NonLLMContextRecall()


def _id_context_recall(context: MetricContext) -> Any:
    from ragas.metrics import IDBasedContextRecall

    return IDBasedContextRecall()


def collection_scorer(build: Callable[[MetricContext], Any], arguments: Callable[[RagSample], dict[str, Any]]) \
        -> Scorer:
    """A scorer that calls a ragas 0.4 collections metric's ``ascore`` on one item.

    Args:
        build: makes the metric (once per run).
        arguments: the metric's keyword arguments for an item.

    Returns:
        The scorer.
    """
    async def score(sample: RagSample, context: MetricContext) -> ItemScore:
        result = await context.built(build).ascore(**arguments(sample))
        return ItemScore(float(result.value))

    return score


def legacy_scorer(build: Callable[[MetricContext], Any], fields: Callable[[RagSample], dict[str, Any]]) -> Scorer:
    """A scorer that calls a legacy ragas metric's ``single_turn_ascore`` on one item's ``SingleTurnSample``.

    Args:
        build: makes the metric (once per run).
        fields: the ``SingleTurnSample`` fields for an item.

    Returns:
        The scorer.
    """
    async def score(sample: RagSample, context: MetricContext) -> ItemScore:
        from ragas.dataset_schema import SingleTurnSample

        value = await context.built(build).single_turn_ascore(SingleTurnSample(**fields(sample)))
        return ItemScore(float(value))

    return score


faithfulness = collection_scorer(_faithfulness, lambda s: {
    "user_input": s.question, "response": s.answer, "retrieved_contexts": s.context_texts})
answer_relevancy = collection_scorer(_answer_relevancy, lambda s: {"user_input": s.question, "response": s.answer})
context_precision = collection_scorer(_context_precision, lambda s: {
    "user_input": s.question, "reference": s.reference, "retrieved_contexts": s.context_texts})
context_recall = collection_scorer(_context_recall, lambda s: {
    "user_input": s.question, "retrieved_contexts": s.context_texts, "reference": s.reference})
answer_correctness = collection_scorer(_answer_correctness, lambda s: {
    "user_input": s.question, "response": s.answer, "reference": s.reference})
string_similarity = collection_scorer(_string_similarity, lambda s: {"reference": s.reference, "response": s.answer})
non_llm_context_precision = legacy_scorer(_non_llm_context_precision, lambda s: {
    "retrieved_contexts": s.context_texts, "reference_contexts": list(s.reference_contexts)})
non_llm_context_recall = legacy_scorer(_non_llm_context_recall, lambda s: {
    "retrieved_contexts": s.context_texts, "reference_contexts": list(s.reference_contexts)})
recall_at_k = legacy_scorer(_id_context_recall, lambda s: {
    "retrieved_context_ids": s.retrieved_ids, "reference_context_ids": list(s.reference_chunk_ids)})
