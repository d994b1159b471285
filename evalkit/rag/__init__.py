"""RAG metrics: ragas' metrics (with a local or endpoint judge and the embedded MiniLM), the four metrics of the
fine-tuning guide that no open library ships (context relevance, completeness, chunk attribution, chunk
utilization) and retrieval metrics, over a traces file (``evalkit rag score``) or the bundled RAG task
(``evalkit score CKPT --suite rag``). Judge failures are counted per metric, never scored.

The scoring entry points (``run_bundled``, ``score_traces``, ``score_samples``, ``check_settings``) import ragas,
so they are loaded on first use: reading a suite's ``rag:`` block stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from evalkit.rag._errors import JudgeOutputError, RagError
from evalkit.rag._registry import METRICS, MetricSpec
from evalkit.rag._samples import Chunk, RagSample, read_traces
from evalkit.rag._settings import RagSettings

_LAZY = {"run_bundled": "evalkit.rag._bundled", "load_corpus": "evalkit.rag._bundled",
         "load_questions": "evalkit.rag._bundled", "score_traces": "evalkit.rag._traces",
         "score_samples": "evalkit.rag._run", "check_settings": "evalkit.rag._run",
         "RagTask": "evalkit.rag._run"}

__all__ = ["METRICS", "Chunk", "JudgeOutputError", "MetricSpec", "RagError", "RagSample", "RagSettings", "RagTask",
           "check_settings", "load_corpus", "load_questions", "read_traces", "run_bundled", "score_samples",
           "score_traces"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'evalkit.rag' has no attribute {name!r}")
