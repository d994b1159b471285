"""RAG samples (question, retrieved chunks, answer, optional ground truth) and the traces file they are read from.

A traces file is JSON lines, one sample per line::

    {"id": "q1",                                   # optional; default: a hash of question and reference
     "question": "How long does a full charge take?",
     "contexts": ["A full charge takes five hours.", {"text": "...", "chunk_id": "manual-07"}],
     "answer": "About five hours.",
     "reference": "About five hours with the supplied charger.",  # optional ground-truth answer
     "reference_contexts": ["..."],                # optional ground-truth chunk texts
     "reference_chunk_ids": ["manual-02"]}         # optional ids of the chunks that support the reference

Other fields are ignored, so logs of a real system can be scored as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.hashing import json_sha256
from evalkit.items import item_id
from evalkit.rag._errors import RagError


@dataclass(frozen=True)
class Chunk:
    """One retrieved chunk: its text and, when the retriever gives one, its id."""

    text: str
    chunk_id: str | None = None


@dataclass(frozen=True)
class RagSample:
    """One question answered by a RAG system.

    Attributes:
        id: a stable id (items of two runs are paired by it).
        question: the user's question.
        contexts: the retrieved chunks, in rank order.
        answer: the system's answer.
        reference: the ground-truth answer, if known.
        reference_contexts: the ground-truth chunk texts, if known.
        reference_chunk_ids: the ids of the chunks that support the reference, if known.
        line: the line of the traces file it was read from (``None`` for the bundled task).
    """

    id: str
    question: str
    contexts: tuple[Chunk, ...]
    answer: str
    reference: str | None = None
    reference_contexts: tuple[str, ...] = ()
    reference_chunk_ids: tuple[str, ...] = ()
    line: int | None = field(default=None, compare=False)

    @property
    def context_texts(self) -> list[str]:
        """The retrieved chunks' texts, in rank order."""
        return [chunk.text for chunk in self.contexts]

    @property
    def retrieved_ids(self) -> list[str] | None:
        """The retrieved chunks' ids in rank order; ``None`` unless every chunk has one."""
        ids = [chunk.chunk_id for chunk in self.contexts]
        return None if any(chunk_id is None for chunk_id in ids) else [str(chunk_id) for chunk_id in ids]

    def missing(self, needs: tuple[str, ...]) -> str | None:
        """Name the first input in ``needs`` this sample lacks (``None`` when it has them all).

        Args:
            needs: input names among ``answer``, ``contexts``, ``reference``, ``reference_contexts`` and
                ``chunk_ids`` (retrieved and reference chunk ids).

        Returns:
            A short reason such as ``"no reference"``, or ``None``.
        """
        reasons = {
            "answer": None if self.answer.strip() else "no answer",
            "contexts": None if self.contexts else "no contexts",
            "reference": None if self.reference and self.reference.strip() else "no reference",
            "reference_contexts": None if self.reference_contexts else "no reference contexts",
            "chunk_ids": self._chunk_ids_problem(),
        }
        return next((reasons[need] for need in needs if reasons[need]), None)

    def _chunk_ids_problem(self) -> str | None:
        unnamed = [str(rank) for rank, chunk in enumerate(self.contexts, start=1) if chunk.chunk_id is None]
        if len(unnamed) == len(self.contexts):
            return "no chunk ids"
        if unnamed:
            return f"no chunk_id on retrieved chunk(s) {', '.join(unnamed)}"
        return None if self.reference_chunk_ids else "no reference chunk ids"

    def problems(self, needs: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
        """What in this sample keeps metrics from using it, or may mislead them: each problem with the metrics it
        affects.

        Args:
            needs: each metric's required inputs (see :meth:`missing`), by metric name.

        Returns:
            ``{problem: [metric, ...]}``: missing inputs with the metrics that skip the sample, and blank retrieved
            chunks with the metrics that read the contexts; empty for a sound sample.
        """
        found: dict[str, list[str]] = {}
        for metric, metric_needs in needs.items():
            reason = self.missing(metric_needs)
            if reason:
                found.setdefault(reason, []).append(metric)
        blank = [str(rank) for rank, chunk in enumerate(self.contexts, start=1) if not chunk.text.strip()]
        readers = [metric for metric, metric_needs in needs.items() if "contexts" in metric_needs]
        if blank and readers:
            found[f"blank retrieved chunk(s) {', '.join(blank)}"] = readers
        return found


class _ContextRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str
    chunk_id: str | None = None


class _TraceRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    question: str = Field(min_length=1)
    contexts: list[str | _ContextRow] = Field(min_length=1)
    answer: str
    reference: str | None = None
    reference_contexts: list[str] = Field(default_factory=list)
    reference_chunk_ids: list[str] = Field(default_factory=list)


def _describe(error: ValidationError) -> str:
    errors = error.errors()
    # a context given as an object is checked against both branches of its union: report the object's problem
    first = next((item for item in errors if "_ContextRow" in item["loc"] and isinstance(item["input"], dict)),
                 errors[0])
    where = ""
    for part in first["loc"]:
        if part in ("str", "_ContextRow"):  # the branch of a union that was tried, not a field
            continue
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    if first["type"] == "missing":
        return f"missing field {where!r}"
    return f"field {where!r}: {first['msg']}"


def sample_from_row(row: Any, *, where: str, line: int | None = None) -> RagSample:
    """Validate one trace row into a :class:`RagSample`.

    Args:
        row: the decoded JSON value.
        where: where it came from, for the error message (e.g. ``traces.jsonl line 3``).
        line: its line in the traces file.

    Returns:
        The sample.

    Raises:
        RagError: the row is not an object with the required fields.
    """
    try:
        parsed = _TraceRow.model_validate(row)
    except ValidationError as error:
        raise RagError(f"{where}: {_describe(error)}; each line needs question, contexts (a list) and answer") \
            from None
    contexts = tuple(Chunk(text=item) if isinstance(item, str) else Chunk(text=item.text, chunk_id=item.chunk_id)
                     for item in parsed.contexts)
    sample_id = parsed.id or item_id({"question": parsed.question, "reference": parsed.reference})
    return RagSample(id=sample_id, question=parsed.question, contexts=contexts, answer=parsed.answer,
                     reference=parsed.reference, reference_contexts=tuple(parsed.reference_contexts),
                     reference_chunk_ids=tuple(parsed.reference_chunk_ids), line=line)


def read_traces(path: Path) -> list[RagSample]:
    """Read a traces file (see the module docstring).

    Args:
        path: a JSONL file.

    Returns:
        The samples, in file order.

    Raises:
        RagError: the file is missing or empty, a line is not JSON, lacks a required field, or repeats an id.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise RagError(f"cannot read traces file {path} ({type(error).__name__}): give a JSONL file") from None
    samples = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise RagError(f"{path} line {number} is not JSON: write one trace object per line") from None
        sample = sample_from_row(row, where=f"{path} line {number}", line=number)
        if sample.id in first_line:
            raise RagError(f"{path} line {number} repeats id {sample.id!r} of line {first_line[sample.id]}: give "
                           "each trace its own id (items of two runs are paired by it)")
        first_line[sample.id] = number
        samples.append(sample)
    if not samples:
        raise RagError(f"{path} has no traces: write one JSON object per line with question, contexts and answer")
    return samples


def task_sha256(samples: list[RagSample]) -> str:
    """The sha256 of what the samples ask (ids, questions, ground truth), not of what a system answered, so two
    systems' traces on the same questions count as the same task."""
    return json_sha256([[sample.id, sample.question, sample.reference, list(sample.reference_contexts),
                         list(sample.reference_chunk_ids)] for sample in samples])
