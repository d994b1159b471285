"""The hand-written RAG metrics, the retrieval metrics and ragas' non-LLM metrics on small examples whose values
were worked out by hand (token sets and fractions below), plus the embedded MiniLM on clear-cut pairs."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from evalkit.rag import Chunk, RagSample
from evalkit.rag._context import ItemScore, MetricContext, NotApplicable
from evalkit.rag._embeddings import EvalkitEmbeddings
from evalkit.rag._handwritten import (
    chunk_attribution,
    chunk_support,
    chunk_utilization,
    clipped_cosines,
    completeness,
    context_relevance,
    token_share,
)
from evalkit.rag._ragas_metrics import non_llm_context_precision, non_llm_context_recall, recall_at_k
from evalkit.rag._registry import METRICS
from evalkit.rag._retrieval import hit_rate, mrr
from evalkit.rag._text import content_tokens, sentences

CHARGING = "Charging: A full charge with the supplied 4 A charger takes about five hours."
WARRANTY = "Warranty: The frame has a ten-year warranty, and the motor has a two-year warranty."
PRINTING = ("Printing: Black-and-white printing costs 10 cents per page and colour printing costs 50 cents "
            "per page.")


@pytest.fixture(scope="module")
def context() -> MetricContext:
    return MetricContext(embeddings=EvalkitEmbeddings())


def run(scorer: object, sample: RagSample, context: MetricContext) -> ItemScore:
    return asyncio.run(scorer(sample, context))  # type: ignore[operator]


def sample(answer: str, *chunks: str, reference: str | None = None, ids: tuple[str, ...] = (),
           reference_ids: tuple[str, ...] = (), reference_contexts: tuple[str, ...] = ()) -> RagSample:
    contexts = tuple(Chunk(text, ids[index] if ids else None) for index, text in enumerate(chunks))
    return RagSample(id="s", question="How long does a full charge of the battery take?", contexts=contexts,
                     answer=answer, reference=reference, reference_contexts=reference_contexts,
                     reference_chunk_ids=reference_ids)


def test_content_tokens_are_stemmed_words_and_numbers_without_stop_words() -> None:
    assert content_tokens("About five hours with the supplied 4 A charger.") == \
        {"five", "hour", "suppli", "4", "charger"}
    assert content_tokens("2,000 eggs at 0.30 euros") == {"2000", "egg", "0.30", "euro"}


def test_sentences_split_at_end_punctuation_and_line_breaks() -> None:
    assert sentences("It costs 0.30 euros. Really? Yes!\nNew line") == ["It costs 0.30 euros.", "Really?", "Yes!",
                                                                       "New line"]


def test_completeness_counts_reference_tokens_found_in_both_contexts_and_answer(context: MetricContext) -> None:
    # needed {five, hour, suppli, 4, charger}: all five in the chunk; the answer has five and hour -> 2/5
    score = run(completeness, sample("It takes about five hours.", CHARGING,
                                     reference="About five hours with the supplied 4 A charger."), context)
    assert score.value == pytest.approx(2 / 5)
    assert score.details == {"context_coverage": 1.0, "answer_coverage": pytest.approx(2 / 5),
                             "missing": ["4", "charger", "suppli"]}


def test_completeness_needs_the_information_in_the_contexts_too(context: MetricContext) -> None:
    # the answer has every needed token, but the retrieved chunk has none of them: nothing was retrieved and used
    score = run(completeness, sample("About five hours with the supplied 4 A charger.", WARRANTY,
                                     reference="About five hours with the supplied 4 A charger."), context)
    assert score.value == 0.0 and score.details["answer_coverage"] == 1.0


def test_completeness_is_undefined_for_a_reference_of_stop_words(context: MetricContext) -> None:
    with pytest.raises(NotApplicable):
        run(completeness, sample("It is.", CHARGING, reference="It is so."), context)


def test_utilization_is_the_share_of_the_chunks_content_tokens_in_the_answer(context: MetricContext) -> None:
    # chunk {print, black, white, cost, 10, cent, page, colour, 50}; answer {colour, print, cost, 50, cent, page}
    assert token_share(content_tokens("Colour printing costs 50 cents per page."), content_tokens(PRINTING)) == \
        pytest.approx(6 / 9)
    score = run(chunk_utilization, sample("Colour printing costs 50 cents per page.", PRINTING, WARRANTY), context)
    assert score.value == pytest.approx(6 / 9) and len(score.details["chunks"]) == 1


def test_attribution_marks_the_chunk_the_answer_paraphrases_and_not_the_unrelated_one(context: MetricContext) -> None:
    score = run(chunk_attribution, sample("A full charge takes about five hours.", CHARGING, WARRANTY), context)
    charging, warranty = score.details["chunks"]
    assert charging["attributed"] and not warranty["attributed"] and score.value == 0.5
    assert charging["support"] > 0.7 and warranty["support"] < 0.3
    assert warranty["utilization"] == 0.0 and charging["judge_used"] is None


def test_an_empty_answer_attributes_no_chunk_and_utilization_is_then_undefined(context: MetricContext) -> None:
    empty = sample("", CHARGING, WARRANTY)
    assert run(chunk_attribution, empty, context).value == 0.0
    with pytest.raises(NotApplicable):
        run(chunk_utilization, empty, context)


def test_support_is_the_best_sentence_pair_and_zero_without_an_answer() -> None:
    answer = np.array([[1.0, 0.0], [0.6, 0.8]])
    chunk = np.array([[0.0, 1.0], [0.8, 0.6]])
    assert chunk_support(answer, chunk) == pytest.approx(0.96)  # 0.6*0.8 + 0.8*0.6
    assert chunk_support(np.zeros((0, 2)), chunk) == 0.0


def test_relevance_clips_cosines_to_between_0_and_1() -> None:
    query = np.array([1.0, 0.0])
    assert clipped_cosines(query, np.array([[0.6, 0.8], [-1.0, 0.0]])).tolist() == [0.6, 0.0]


def test_context_relevance_is_high_for_the_chunk_that_answers_and_low_for_another(context: MetricContext) -> None:
    relevant = run(context_relevance, sample("", CHARGING), context).value
    unrelated = run(context_relevance, sample("", PRINTING), context).value
    both = run(context_relevance, sample("", CHARGING, PRINTING), context)
    assert relevant > 0.5 and unrelated < 0.2
    assert both.value == pytest.approx((relevant + unrelated) / 2, abs=1e-6)


def test_retrieval_metrics_from_chunk_ids(context: MetricContext) -> None:
    # retrieved a, b, c; supporting b and d: a hit, first hit at rank 2, one of two supporting chunks found
    item = sample("x", "a text", "b text", "c text", ids=("a", "b", "c"), reference_ids=("b", "d"))
    assert run(hit_rate, item, context).value == 1.0
    assert run(mrr, item, context).value == 0.5
    assert run(recall_at_k, item, context).value == 0.5
    miss = sample("x", "a text", ids=("a",), reference_ids=("z",))
    assert (run(hit_rate, miss, context).value, run(mrr, miss, context).value) == (0.0, 0.0)


def test_ragas_non_llm_context_metrics_on_exact_matches(context: MetricContext) -> None:
    # the one reference context is retrieved at rank 2 of 2: precision AP = (1/2 * 1) / 1, recall = 1/1
    item = sample("x", WARRANTY, CHARGING, reference_contexts=(CHARGING,))
    assert run(non_llm_context_precision, item, context).value == pytest.approx(0.5)
    assert run(non_llm_context_recall, item, context).value == 1.0
    assert run(non_llm_context_recall, sample("x", WARRANTY, reference_contexts=(CHARGING,)), context).value == 0.0


def test_sample_names_the_first_missing_input() -> None:
    item = sample("", CHARGING)
    assert item.missing(("contexts", "answer")) == "no answer"
    assert item.missing(("reference",)) == "no reference"
    assert item.missing(("chunk_ids",)) == "no chunk ids"
    assert item.missing(("contexts",)) is None


def test_every_metric_names_its_inputs_and_family() -> None:
    families = {spec.family for spec in METRICS.values()}
    assert families == {"ragas-llm", "ragas", "evalkit", "retrieval"}
    assert {"faithfulness", "answer_relevancy", "context_precision", "context_recall", "answer_correctness",
            "context_relevance", "completeness", "chunk_attribution", "chunk_utilization"} <= set(METRICS)
