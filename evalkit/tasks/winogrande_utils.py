"""Helpers for the bundled WinoGrande stand-in (evalkit_winogrande).

WinoGrande is scored by partial evaluation: each option is substituted for the blank to build a context,
and the model is scored on the shared continuation after the blank. These functions delegate to
``lm_eval.tasks.winogrande.preprocess_winogrande`` (which imports cleanly offline), so the prompts are
exactly the official task's.
"""

from __future__ import annotations

from typing import Any

from lm_eval.tasks.winogrande import preprocess_winogrande as _official


def doc_to_text(doc: dict[str, Any]) -> int:
    """Return the index of the gold context (``answer`` "1" -> 0, "2" -> 1).

    Args:
        doc: a winogrande row with ``sentence``, ``option1``, ``option2`` and ``answer`` ("1" or "2").

    Returns:
        The gold choice index; with multiple contexts, lm-eval treats doc_to_text as the gold index.
    """
    return _official.doc_to_text(doc)


def doc_to_target(doc: dict[str, Any]) -> str:
    """Return the shared continuation: the sentence text after the ``_`` blank, stripped.

    Args:
        doc: a winogrande row.

    Returns:
        The text following the blank, which is scored after each candidate context.
    """
    return _official.doc_to_target(doc)


def doc_to_choice(doc: dict[str, Any]) -> list[str]:
    """Return the two candidate contexts: the sentence up to the blank with each option filled in.

    Args:
        doc: a winogrande row.

    Returns:
        ``[prefix + option1, prefix + option2]``.
    """
    return _official.doc_to_choice(doc)
