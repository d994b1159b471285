"""What a metric's per-item scorer receives and returns: the shared components of one scoring run (embeddings,
judge, thresholds, memoised intermediate results) and the item's score."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evalkit.rag._errors import JudgeOutputError, RagError
from evalkit.rag._samples import RagSample

if TYPE_CHECKING:  # both import ragas, which the metric registry (read when a suite loads) does not need
    from evalkit.rag._embeddings import EvalkitEmbeddings
    from evalkit.rag._judge import Judge


class NotApplicable(Exception):
    """The metric is undefined for this item (e.g. no chunk was attributed); the item is skipped and counted."""


@dataclass(frozen=True)
class ItemScore:
    """One item's value of one metric, with the evidence behind it (written to ``items.jsonl``)."""

    value: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class MetricContext:
    """The components every scorer of one run shares.

    Attributes:
        embeddings: the run's embedder (cached by text).
        judge: the judge, or ``None`` when the run has none.
        attribution_threshold: the answer-chunk similarity at or above which a chunk counts as attributed.
        attribution_judge: whether the judge confirms attributions.
    """

    embeddings: EvalkitEmbeddings
    judge: Judge | None = None
    attribution_threshold: float = 0.6
    attribution_judge: bool = False
    _objects: dict[Callable[..., Any], Any] = field(default_factory=dict)
    _memo: dict[tuple[str, RagSample], Any] = field(default_factory=dict)

    def require_judge(self) -> Judge:
        """The judge; LLM metrics are only selected when the run has one."""
        if self.judge is None:
            raise RagError("an LLM-judge metric was selected without a judge: pass --judge CHECKPOINT")
        return self.judge

    def judge_calls(self) -> int:
        """Judge calls made so far in this run."""
        return self.judge.calls if self.judge is not None else 0

    def built(self, build: Callable[[MetricContext], Any]) -> Any:
        """Build a ragas metric object once per run and return it.

        Args:
            build: makes the object from this context.

        Returns:
            The (cached) object.
        """
        if build not in self._objects:
            self._objects[build] = build(self)
        return self._objects[build]

    async def memo(self, key: str, sample: RagSample, compute: Callable[[], Awaitable[Any]]) -> Any:
        """Compute a per-item intermediate once, for metrics that share it (attribution and utilization); an
        exception it raised (such as a judge failure) is raised again for each metric that asks.

        Args:
            key: what is computed.
            sample: the item.
            compute: computes it.

        Returns:
            The intermediate.
        """
        slot = (key, sample)
        if slot not in self._memo:
            try:
                self._memo[slot] = await compute()
            except (JudgeOutputError, NotApplicable) as error:  # re-raised below, so both metrics count it
                self._memo[slot] = error
        value = self._memo[slot]
        if isinstance(value, Exception):
            raise value
        return value


Scorer = Callable[[RagSample, MetricContext], Awaitable[ItemScore]]
