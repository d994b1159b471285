"""The error every RAG input problem raises: a bad traces file, an unknown metric, an unusable setting."""

from __future__ import annotations

from evalkit.errors import EvalkitError


class RagError(EvalkitError):
    """A traces file, metric name or RAG setting that cannot be used; the message names the fix."""


class JudgeOutputError(Exception):
    """The judge's reply could not be read as the structured output a metric asked for (counted, never scored)."""
