"""The judge: replies parsed strictly into the structure a metric asks for, and every failure counted per metric
(excluded, never scored) for a local checkpoint, an OpenAI-compatible chat endpoint and the embedded model."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from evalkit.checkpoints import load, resolve
from evalkit.rag import Chunk, JudgeOutputError, RagSample, RagSettings, RagTask, score_samples
from evalkit.rag._context import MetricContext
from evalkit.rag._embeddings import EvalkitEmbeddings
from evalkit.rag._evaluate import evaluate
from evalkit.rag._judge import LocalJudge, RemoteJudge, check_substantive, load_judge, parse_reply
from evalkit.rag._registry import METRICS
from tests.openai_server import JsonHandler, _Backend, serve_handler


class Verdict(BaseModel):
    verdict: int


SAMPLES = [
    RagSample(id="a", question="How long does a full charge take?",
              contexts=(Chunk("A full charge with the supplied charger takes about five hours.", "c1"),),
              answer="A full charge takes about five hours.", reference="About five hours."),
    RagSample(id="b", question="What does colour printing cost?",
              contexts=(Chunk("Colour printing costs 50 cents per page.", "c2"),),
              answer="It costs 50 cents per page.", reference="50 cents per page."),
]
TASK = RagTask(name="rag_traces", source="test", data_sha256="x", output_type="traces")


def test_the_first_json_object_that_validates_is_read() -> None:
    assert parse_reply('Sure! ```json\n{"verdict": 1}\n``` done', Verdict).verdict == 1
    assert parse_reply('{"other": 2} then {"verdict": 0}', Verdict).verdict == 0


@pytest.mark.parametrize("reply", ['{"verdict": 1', "verdict: 1", '{"verdict": "maybe"}', ""])
def test_truncated_prose_or_mistyped_replies_are_judge_errors(reply: str) -> None:
    with pytest.raises(JudgeOutputError, match="no JSON Verdict"):
        parse_reply(reply, Verdict)


def test_a_local_judge_that_cannot_answer_in_json_fails_every_item_and_the_metric_is_unreliable(
        tiny_model_dir: Path) -> None:
    settings = RagSettings(metrics=["faithfulness", "string_similarity"], judge=str(tiny_model_dir),
                           judge_max_new_tokens=24)
    section, rows = score_samples(SAMPLES, settings, TASK)
    faithfulness, similarity = section.metrics
    assert (faithfulness.n, faithfulness.judge_failures, faithfulness.judge_failure_rate) == (0, 2, 1.0)
    assert faithfulness.value is None and not faithfulness.reliable and faithfulness.judge_calls == 2
    assert similarity.n == 2 and similarity.reliable and similarity.judge_failure_rate is None
    failed = [row for row in rows if row["metric"] == "faithfulness"]
    assert [row["status"] for row in failed] == ["judge_failure"] * 2
    assert all(row["score"] is None and row["filter"] == "excluded" and "no JSON" in row["reason"] for row in failed)
    assert section.judge == str(tiny_model_dir) and section.judge_fingerprint


def test_a_given_judge_checks_attributions_and_its_failures_exclude_both_chunk_metrics(tiny_model_dir: Path) -> None:
    settings = RagSettings(metrics=["chunk_attribution", "chunk_utilization"], judge=str(tiny_model_dir),
                           judge_max_new_tokens=8)
    section, _ = score_samples(SAMPLES, settings, TASK)
    attribution, utilization = section.metrics
    assert attribution.judge_calls == 2 and utilization.judge_calls == 0  # computed once per item, shared
    assert attribution.judge_failures == utilization.judge_failures == 2 and not attribution.reliable


def test_without_a_judge_attribution_uses_similarity_only_and_calls_nothing() -> None:
    section, _ = score_samples(SAMPLES, RagSettings(metrics=["chunk_attribution"]), TASK)
    assert section.judge is None and section.metrics[0].value == 1.0 and section.metrics[0].judge_failure_rate is None


def test_the_scored_checkpoint_is_reused_as_judge(tiny_model_dir: Path) -> None:
    from evalkit.checkpoints import load, resolve

    checkpoint = resolve(str(tiny_model_dir))
    loaded = load(checkpoint, batch_size=1)
    judge = load_judge(str(tiny_model_dir), max_new_tokens=4, loaded=(checkpoint, loaded))
    assert isinstance(judge, LocalJudge) and judge.lm is loaded.lm


class _ChatHandler(JsonHandler):
    """``/v1/models`` and ``/v1/chat/completions`` over a transformers model (what ragas' OpenAI client calls)."""

    backend: _Backend
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": self.backend.name, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": "no route"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": "no route"}})
            return
        prompt = "\n".join(str(message["content"]) for message in body["messages"])
        with self.backend.lock:
            done = self.backend.complete(self.backend.encode(prompt), int(body.get("max_tokens") or 16), 0.0, [], 0)
        self._send(200, {"id": "chat-1", "object": "chat.completion", "created": 0, "model": self.backend.name,
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": done.text}}],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


@contextmanager
def chat_server(model_dir: Path) -> Iterator[str]:
    backend = _Backend("tiny-judge", AutoModelForCausalLM.from_pretrained(model_dir),
                       AutoTokenizer.from_pretrained(model_dir), logprobs=False)
    with serve_handler(type("Handler", (_ChatHandler,), {"backend": backend})) as url:
        yield url


def test_an_endpoint_judge_goes_through_ragas_openai_client_and_its_failures_are_counted(tiny_model_dir: Path) -> None:
    with chat_server(tiny_model_dir) as url:
        spec = f"openai:tiny-judge@{url}"
        settings = RagSettings(metrics=["context_recall"], judge=spec, judge_max_new_tokens=16)
        section, rows = score_samples(SAMPLES, settings, TASK)
    recall = section.metrics[0]
    assert recall.judge_calls == 2 and recall.judge_failures == 2 and recall.n == 0 and not recall.reliable
    assert section.judge == spec and all(row["status"] == "judge_failure" for row in rows)


def test_an_endpoint_judge_is_built_with_one_attempt_per_call(tiny_model_dir: Path) -> None:
    with chat_server(tiny_model_dir) as url:
        judge = load_judge(f"openai:tiny-judge@{url}", max_new_tokens=16)
    assert isinstance(judge, RemoteJudge) and judge.inner.model_args["max_retries"] == 1


@pytest.mark.slow
def test_the_embedded_judge_on_two_items_counts_every_failure(shared_home: Path) -> None:
    settings = RagSettings(metrics=["faithfulness"], judge="smollm2", judge_max_new_tokens=96)
    section, rows = score_samples(SAMPLES, settings, TASK)
    metric = section.metrics[0]
    # whatever the judge returns, each item is either scored or a counted failure, and the rate says which
    assert metric.n + metric.judge_failures + metric.skipped == 2 and metric.skipped == 0
    assert metric.judge_failure_rate == metric.judge_failures / 2 and metric.judge_calls >= 2
    assert metric.reliable == (metric.judge_failure_rate <= 0.2)
    assert len([row for row in rows if row["status"] == "judge_failure"]) == metric.judge_failures


class Statements(BaseModel):
    statements: list[str]


class Classified(BaseModel):
    TP: list[str]
    FP: list[str]


class Question(BaseModel):
    question: str
    noncommittal: int
    reason: str = ""


def test_replies_with_nothing_to_score_are_judge_errors_not_perfect_or_zero_scores() -> None:
    with pytest.raises(JudgeOutputError, match="Statements is empty"):
        check_substantive(Statements(statements=[]))
    with pytest.raises(JudgeOutputError, match="Question is empty"):
        check_substantive(Question(question=" ", noncommittal=0))
    assert check_substantive(Classified(TP=["x"], FP=[])).TP == ["x"]  # one empty class of several is an answer
    assert check_substantive(Question(question="Why?", noncommittal=0)).question == "Why?"


def test_a_local_judges_replies_are_cached_by_fingerprint_and_prompt(tiny_model_dir: Path, evalkit_home: Path) -> None:
    class Verdicts(BaseModel):
        statements: list[str]

    checkpoint = resolve(str(tiny_model_dir))
    loaded = load(checkpoint, batch_size=1)
    judge = load_judge(str(tiny_model_dir), max_new_tokens=4, loaded=(checkpoint, loaded))
    assert isinstance(judge, LocalJudge)
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append(judge.generate("List the statements.", Verdicts))
        except JudgeOutputError as error:
            outcomes.append(str(error))
    assert judge.calls == 2 and judge.cache_hits == 1 and outcomes[0] == outcomes[1]
    again = load_judge(str(tiny_model_dir), max_new_tokens=5, loaded=(checkpoint, loaded))
    with contextlib.suppress(JudgeOutputError):
        again.generate("List the statements.", Verdicts)
    assert again.cache_hits == 0  # other decoding settings are another key


class _RecordingLM:
    """An lm-eval model stand-in that answers every prompt with a fixed reply and records each batch it gets."""

    def __init__(self, reply: str, *, fails: bool = False) -> None:
        self.reply, self.fails, self.batches = reply, fails, []

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        self.batches.append([request.arguments[0] for request in requests])
        if self.fails:
            raise RuntimeError("out of memory")
        return [self.reply] * len(requests)


def _recording_judge(lm: _RecordingLM) -> LocalJudge:
    return LocalJudge(lm, spec="recording", fingerprint=f"recording-{id(lm)}", use_chat_template=False,
                      max_new_tokens=8)


def test_concurrent_calls_of_a_local_judge_go_to_the_model_as_one_batch_and_are_cached(evalkit_home: Path) -> None:
    lm = _RecordingLM('{"verdict": 1}')
    judge = _recording_judge(lm)

    async def ask_all() -> list[Verdict]:
        return list(await asyncio.gather(*(judge.agenerate(f"prompt {index}", Verdict) for index in range(5))))

    assert [verdict.verdict for verdict in asyncio.run(ask_all())] == [1] * 5
    assert lm.batches == [[f"prompt {index}" for index in range(5)]] and judge.batches == [5] and judge.calls == 5
    asyncio.run(ask_all())
    assert len(lm.batches) == 1 and judge.cache_hits == 5  # the re-run asks the model nothing


def test_a_batch_that_fails_fails_every_item_waiting_on_it(evalkit_home: Path) -> None:
    judge = _recording_judge(_RecordingLM("", fails=True))

    async def ask_all() -> list[Any]:
        return list(await asyncio.gather(*(judge.agenerate(f"p{index}", Verdict) for index in range(3)),
                                         return_exceptions=True))

    assert [str(error) for error in asyncio.run(ask_all())] == ["out of memory"] * 3


def test_the_chunk_attribution_checks_of_all_items_are_batched(evalkit_home: Path) -> None:
    lm = _RecordingLM('{"used": true}')
    context = MetricContext(embeddings=EvalkitEmbeddings("minilm"), judge=_recording_judge(lm),
                            attribution_judge=True)
    samples = [RagSample(id=f"{sample.id}{copy}", question=sample.question, contexts=sample.contexts,
                         answer=f"{sample.answer} (copy {copy})") for copy in range(3) for sample in SAMPLES]
    [outcome] = evaluate(samples, [METRICS["chunk_attribution"]], context, concurrency=4)
    assert [len(batch) for batch in lm.batches] == [4, 2]  # six items, four in flight at a time
    assert len(outcome.scored) == 6 and outcome.judge_calls == 6
