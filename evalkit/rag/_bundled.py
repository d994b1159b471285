"""The rag suite's bundled task, written for evalkit: 48 short chunks on six topics (an e-bike manual, library
policies, a travel-expense policy, honeybees, volcanoes, a solar-inverter guide) in ``data/corpus.jsonl``, and 54
questions with a reference answer and the ids of the chunks that support it in ``data/questions.jsonl``.

Schemas (JSON lines)::

    corpus.jsonl     {"chunk_id": "ebike-02", "source": "Lumen L2 e-bike manual", "text": "Charging: ..."}
    questions.jsonl  {"id": "q01", "question": "...", "reference": "...", "chunk_ids": ["ebike-02"]}

The checkpoint answers each question from the top-k chunks that the embedder retrieves (cosine similarity of
question and chunk), so one run measures retrieval (hit rate, recall@k, MRR against the supporting ids) and the
checkpoint's use of what was retrieved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.checkpoints import Checkpoint, LoadedModel
from evalkit.generation import generate_replies
from evalkit.hashing import json_sha256
from evalkit.rag._embeddings import EvalkitEmbeddings
from evalkit.rag._run import Notify, Progress, RagTask, score_samples
from evalkit.rag._samples import Chunk, RagSample
from evalkit.rag._settings import RagSettings
from evalkit.scorecard import RagSection

DATA = Path(__file__).parent / "data"
ANSWER_PROMPT = ("Answer the question using only the context below. Answer in one or two sentences.\n\n"
                 "Context:\n{context}\n\nQuestion: {question}")


@dataclass(frozen=True)
class Question:
    """A bundled question with its reference answer and the ids of the chunks that support it."""

    id: str
    question: str
    reference: str
    chunk_ids: tuple[str, ...]


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def load_corpus() -> list[Chunk]:
    """The bundled chunks, with their ids."""
    return [Chunk(text=row["text"], chunk_id=row["chunk_id"]) for row in _rows("corpus.jsonl")]


def load_questions(limit: int | None = None) -> list[Question]:
    """The bundled questions: all, or ``limit`` evenly spaced ones (the file is ordered by topic, so 12 or more
    cover every topic).

    Args:
        limit: at most this many questions.

    Returns:
        The questions.
    """
    rows = _rows("questions.jsonl")
    if limit is not None and limit < len(rows):
        step = len(rows) / limit
        rows = [rows[int(index * step)] for index in range(limit)]
    return [Question(id=row["id"], question=row["question"], reference=row["reference"],
                     chunk_ids=tuple(row["chunk_ids"])) for row in rows]


def retrieve(questions: list[Question], corpus: list[Chunk], embeddings: EvalkitEmbeddings,
             top_k: int) -> list[list[Chunk]]:
    """The ``top_k`` chunks of highest cosine similarity to each question, best first.

    Args:
        questions: the questions.
        corpus: the chunks.
        embeddings: the embedder.
        top_k: chunks per question.

    Returns:
        One ranked list of chunks per question.
    """
    similarity = embeddings.vectors([q.question for q in questions]) @ embeddings.vectors([c.text for c in corpus]).T
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :top_k]
    return [[corpus[index] for index in row] for row in order]


def answer_prompt(question: str, chunks: list[Chunk]) -> str:
    """The user message the checkpoint answers: numbered chunks, then the question."""
    context = "\n".join(f"[{rank}] {chunk.text}" for rank, chunk in enumerate(chunks, start=1))
    return ANSWER_PROMPT.format(context=context, question=question)


def run_bundled(lm: Any, settings: RagSettings, *, use_chat_template: bool, seed: int,
                loaded: tuple[Checkpoint, LoadedModel] | None = None, notify: Notify = lambda message: None,
                progress: Progress | None = None) -> tuple[RagSection, list[dict[str, Any]]]:
    """Run the bundled RAG task on a loaded checkpoint: retrieve, answer, score.

    Args:
        lm: the checkpoint's lm-eval model (the answers are generated through it).
        settings: metrics, judge, retrieval depth, answer length.
        use_chat_template: wrap prompts in the checkpoint's chat template.
        seed: recorded in the task settings.
        loaded: the scored checkpoint, reused when it is also the judge.
        notify: called with short status messages.
        progress: called after each scored item.

    Returns:
        The ``rag`` section and the item rows.
    """
    corpus, questions = load_corpus(), load_questions(settings.limit)
    notify(f"rag: retrieving {settings.top_k} of {len(corpus)} chunks for {len(questions)} questions")
    retrieved = retrieve(questions, corpus, EvalkitEmbeddings(settings.embedder), settings.top_k)
    notify(f"rag: {len(questions)} answers")
    answers = generate_replies(lm, [answer_prompt(q.question, chunks) for q, chunks in zip(questions, retrieved,
                                                                                             strict=True)],
                               max_new_tokens=settings.max_new_tokens, use_chat_template=use_chat_template)
    texts = {chunk.chunk_id: chunk.text for chunk in corpus}
    samples = [RagSample(id=q.id, question=q.question, contexts=tuple(chunks), answer=answer, reference=q.reference,
                         reference_contexts=tuple(texts[chunk_id] for chunk_id in q.chunk_ids),
                         reference_chunk_ids=q.chunk_ids)
               for q, chunks, answer in zip(questions, retrieved, answers, strict=True)]
    task = RagTask(name="rag_bundled", source="bundled", data_sha256=json_sha256([_rows("corpus.jsonl"),
                                                                                  [q.__dict__ for q in questions]]),
                   output_type="generate_until", seed=seed, apply_chat_template=use_chat_template,
                   retrieval={"top_k": settings.top_k, "corpus_chunks": len(corpus), "embedder": settings.embedder},
                   generation={"max_new_tokens": settings.max_new_tokens, "do_sample": False,
                               "chat_template": use_chat_template, "prompt_sha256": json_sha256(ANSWER_PROMPT)})
    return score_samples(samples, settings, task, loaded=loaded, notify=notify, progress=progress)
