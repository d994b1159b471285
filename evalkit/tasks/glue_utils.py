"""Prompt helpers for the bundled GLUE stand-in tasks.

Mirrors ``lm_eval/tasks/glue/mnli/utils.py`` from lm-eval 0.4.13 so the bundled
``evalkit_mnli`` task builds exactly the same prompt as the official ``mnli`` task.
"""

from __future__ import annotations

from typing import Any


def doc_to_text(doc: dict[str, Any]) -> str:
    """Build the MNLI prompt: premise, then the hypothesis (ending in a period) as a question.

    Args:
        doc: one MNLI row with ``premise`` and ``hypothesis`` fields.

    Returns:
        ``"<premise>\\nQuestion: <hypothesis>. True, False or Neither?\\nAnswer:"``.
    """
    hypothesis = doc["hypothesis"].strip()
    return "{}\nQuestion: {} True, False or Neither?\nAnswer:".format(
        doc["premise"],
        hypothesis + ("" if hypothesis.endswith(".") else "."),
    )
