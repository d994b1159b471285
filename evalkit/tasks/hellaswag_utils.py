"""Helpers for the bundled HellaSwag stand-in (evalkit_hellaswag).

Both functions delegate to ``lm_eval.tasks.hellaswag.utils`` (which imports cleanly offline), so the
preprocessing, including the WikiHow bracket-tag removal, is exactly the official task's.
"""

from __future__ import annotations

import datasets
from lm_eval.tasks.hellaswag import utils as _official


def preprocess(text: str) -> str:
    """Clean one HellaSwag string: strip, turn `` [title]`` into ``". "``, drop ``[...]`` tags, squeeze double spaces.

    Args:
        text: a raw context or ending string.

    Returns:
        The cleaned string, as lm-eval's official hellaswag task produces it.
    """
    return _official.preprocess(text)


def process_docs(dataset: datasets.Dataset) -> datasets.Dataset:
    """Add the official ``query``, ``choices`` and ``gold`` fields to every HellaSwag row.

    Args:
        dataset: rows in the Rowan/hellaswag schema (``activity_label``, ``ctx_a``, ``ctx_b``, ``endings``, ``label``).

    Returns:
        The dataset with ``query`` (``"<activity_label>: <ctx_a> <Ctx_b>"``, cleaned), ``choices`` (cleaned endings)
        and ``gold`` (``int(label)``) added.
    """
    return _official.process_docs(dataset)
