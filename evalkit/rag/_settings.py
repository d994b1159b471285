"""The ``rag:`` block of a suite, and the options of ``evalkit rag score``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from evalkit.embeddings import DEFAULT_EMBEDDER
from evalkit.rag._registry import METRICS


class RagSettings(BaseModel):
    """How RAG metrics are computed.

    ``metrics`` left out means every metric that needs no LLM judge (plus the LLM-judge metrics when ``judge`` is
    given). An LLM-judge metric named in ``metrics`` without a ``judge`` uses the embedded SmolLM2.
    """

    model_config = ConfigDict(extra="forbid")

    metrics: list[str] | None = Field(default=None, description="Metric names (default: see above).")
    judge: str | None = Field(default=None, description="Checkpoint spec of the judge (any evalkit spec, or "
                                                        "openai:MODEL@URL for a chat endpoint).")
    embedder: str = Field(default=DEFAULT_EMBEDDER, description="minilm or a sentence-transformers folder.")
    top_k: int = Field(default=3, gt=0, description="Bundled task: chunks retrieved per question.")
    limit: int | None = Field(default=None, gt=0, description="At most this many questions or traces.")
    max_new_tokens: int = Field(default=96, gt=0, description="Bundled task: answer length cap in tokens.")
    judge_max_new_tokens: int = Field(default=256, gt=0, description="Judge reply length cap in tokens.")
    judge_batch_size: int = Field(default=8, gt=0, description="Items scored at once: a local judge answers "
                                  "their calls in batches of up to this size, an endpoint gets this many "
                                  "requests at a time.")
    # 0.6: on the bundled task's SmolLM2 answers that are at least half complete, 79% of the supporting chunks
    # reach it and 9% of the other retrieved chunks do (0.5: 89% and 34%; 0.7: 42% and 3%).
    attribution_threshold: float = Field(default=0.6, ge=0.0, le=1.0, description="Answer-chunk sentence cosine "
                                         "at or above which a chunk counts as attributed.")
    max_judge_failure_rate: float = Field(default=0.2, ge=0.0, le=1.0, description="Above this share of judge "
                                          "failures a metric is marked unreliable.")

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, metrics: list[str] | None) -> list[str] | None:
        unknown = [name for name in metrics or [] if name not in METRICS]
        if unknown or metrics == []:
            raise ValueError(f"unknown RAG metric(s) {unknown}: choose from {', '.join(METRICS)}")
        return metrics
