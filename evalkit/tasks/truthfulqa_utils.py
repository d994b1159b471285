"""Helpers for the bundled TruthfulQA multiple-choice stand-ins (evalkit_truthfulqa_mc1 / _mc2).

The scoring logic is lm-eval's own: ``process_results_mc2`` delegates to
``lm_eval.tasks.truthfulqa.utils.process_results_mc2`` (which imports cleanly offline), so the
evalkit_truthfulqa_mc2 metric is computed exactly as in the official ``truthfulqa_mc2`` task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lm_eval.tasks.truthfulqa import utils as _official


def process_results_mc2(doc: dict[str, Any], results: Sequence[tuple[float, bool]]) -> dict[str, float]:
    """Score one TruthfulQA MC2 item as the normalized probability mass on the true answers.

    Args:
        doc: a truthful_qa ``multiple_choice`` row; ``doc["mc2_targets"]["labels"]`` marks true answers with 1.
        results: one ``(loglikelihood, is_greedy)`` pair per choice in ``mc2_targets.choices``, in order.

    Returns:
        ``{"acc": p}`` where ``p`` is the softmax-normalized likelihood mass assigned to the true answers.
    """
    return _official.process_results_mc2(doc, results)
