"""Every RAG metric by name: where it comes from, what inputs it needs, and its per-item scorer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from evalkit.rag import _handwritten, _ragas_metrics, _retrieval
from evalkit.rag._context import Scorer
from evalkit.rag._errors import RagError
from evalkit.rag._samples import RagSample

Family = Literal["ragas-llm", "ragas", "evalkit", "retrieval"]


@dataclass(frozen=True)
class MetricSpec:
    """One RAG metric.

    Attributes:
        name: its name in the scorecard (``rag.<name>`` in a gate policy).
        family: ``ragas-llm`` (ragas, needs the judge), ``ragas`` (ragas, no LLM), ``evalkit`` (written for evalkit)
            or ``retrieval`` (from chunk ids).
        needs: the sample inputs it needs (see :meth:`RagSample.missing`); items without them are skipped.
        scorer: scores one item.
        description: one line for ``evalkit rag metrics``.
        judge_check: the judge, when one is given, confirms this metric's intermediate results.
    """

    name: str
    family: Family
    needs: tuple[str, ...]
    scorer: Scorer
    description: str
    judge_check: bool = False

    @property
    def uses_judge(self) -> bool:
        """Whether the metric cannot run without a judge."""
        return self.family == "ragas-llm"


_SPECS = (
    MetricSpec("faithfulness", "ragas-llm", ("answer", "contexts"), _ragas_metrics.faithfulness,
               "share of the answer's statements that the contexts support"),
    MetricSpec("answer_relevancy", "ragas-llm", ("answer",), _ragas_metrics.answer_relevancy,
               "cosine of the question to a question the judge infers from the answer"),
    MetricSpec("context_precision", "ragas-llm", ("reference", "contexts"), _ragas_metrics.context_precision,
               "average precision of the chunks the judge finds useful for the reference"),
    MetricSpec("context_recall", "ragas-llm", ("reference", "contexts"), _ragas_metrics.context_recall,
               "share of the reference's claims the judge attributes to the contexts"),
    MetricSpec("answer_correctness", "ragas-llm", ("answer", "reference"), _ragas_metrics.answer_correctness,
               "0.75 x claim F1 against the reference + 0.25 x embedding similarity"),
    MetricSpec("non_llm_context_precision", "ragas", ("contexts", "reference_contexts"),
               _ragas_metrics.non_llm_context_precision,
               "average precision of chunks string-similar (> 0.5) to a reference context"),
    MetricSpec("non_llm_context_recall", "ragas", ("contexts", "reference_contexts"),
               _ragas_metrics.non_llm_context_recall,
               "share of reference contexts string-similar (> 0.5) to a retrieved chunk"),
    MetricSpec("string_similarity", "ragas", ("reference",), _ragas_metrics.string_similarity,
               "normalised Levenshtein similarity of the answer to the reference"),
    MetricSpec("context_relevance", "evalkit", ("contexts",), _handwritten.context_relevance,
               "mean clipped cosine of the question to each retrieved chunk"),
    MetricSpec("completeness", "evalkit", ("reference", "contexts"), _handwritten.completeness,
               "share of the reference's content tokens in both the contexts and the answer"),
    MetricSpec("chunk_attribution", "evalkit", ("contexts",), _handwritten.chunk_attribution,
               "share of chunks that influenced the answer (answer-chunk similarity, judge check if given)",
               judge_check=True),
    MetricSpec("chunk_utilization", "evalkit", ("contexts",), _handwritten.chunk_utilization,
               "mean share of an attributed chunk's content tokens used in the answer", judge_check=True),
    MetricSpec("hit_rate", "retrieval", ("chunk_ids",), _retrieval.hit_rate,
               "1 when a supporting chunk was retrieved"),
    MetricSpec("recall_at_k", "retrieval", ("chunk_ids",), _ragas_metrics.recall_at_k,
               "share of the supporting chunks retrieved (ragas IDBasedContextRecall)"),
    MetricSpec("mrr", "retrieval", ("chunk_ids",), _retrieval.mrr,
               "reciprocal rank of the first supporting chunk"),
)
METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}


def check_metric_names(names: list[str]) -> list[str]:
    """Return ``names`` if every one is a known metric.

    Raises:
        RagError: naming the unknown ones and listing the known ones.
    """
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise RagError(f"unknown RAG metric(s) {', '.join(unknown)}: choose from {', '.join(METRICS)}")
    if not names:
        raise RagError(f"no RAG metric given: choose from {', '.join(METRICS)}")
    return names


def select_metrics(names: list[str] | None, samples: list[RagSample], *, with_judge: bool) -> list[MetricSpec]:
    """The metrics a run computes.

    Args:
        names: the metrics asked for, or ``None`` for the default: every metric without an LLM judge (plus the LLM
            metrics when ``with_judge``) for which at least one sample has the inputs.
        samples: the items.
        with_judge: a judge was given explicitly.

    Returns:
        The metric specs, in registry order for the default, in the given order otherwise.
    """
    if names is not None:
        return [METRICS[name] for name in check_metric_names(names)]
    return [spec for spec in _SPECS if (with_judge or not spec.uses_judge)
            and any(sample.missing(spec.needs) is None for sample in samples)]
