"""IFEval scoring helpers for the bundled ``evalkit_ifeval`` task.

The scoring is lm-eval's own: ``process_results`` and ``agg_inst_level_acc`` are
lm-eval's ``lm_eval.tasks.ifeval.utils`` functions, called unchanged, so every
instruction is checked by the official instruction classes.

Offline note. Importing ``lm_eval.tasks.ifeval`` runs
``instructions_util.download_nltk_resources()``, which calls
``nltk.download("punkt_tab")`` when NLTK's ``punkt_tab`` data is not installed.
That call never raises (NLTK prints an error and returns ``False``), but it does
try the network, which may hang on a machine without one. punkt_tab is only used
by two instruction ids, ``length_constraints:number_sentences`` and
``change_case:capital_word_frequency``; the bundled data uses neither. So while
lm-eval's module is first imported (lazily, at the first score), and only if punkt_tab is missing, the NLTK
download is replaced by a no-op (and lm-eval's unconditional "Downloaded
punkt_tab" print is swallowed): no network access is ever attempted. Scoring a
doc that uses one of those two ids without punkt_tab installed fails loudly with
NLTK's ``LookupError`` (install the data with ``python -m nltk.downloader
punkt_tab`` to use them).

Run-time PyPI packages needed by lm-eval's checker: ``nltk`` (>= 3.9.1),
``langdetect`` and ``immutabledict``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
from typing import Any

logger = logging.getLogger(__name__)

#: Instruction ids whose lm-eval checker needs NLTK's punkt_tab data.
PUNKT_TAB_INSTRUCTIONS: frozenset[str] = frozenset(
    {"length_constraints:number_sentences", "change_case:capital_word_frequency"}
)


def _punkt_tab_installed() -> bool:
    """Return whether NLTK's ``punkt_tab`` tokenizer data is found locally."""
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab")
    except LookupError:
        return False
    return True


def _skip_nltk_download(*args: Any, **kwargs: Any) -> bool:
    """Stand in for ``nltk.download`` at import time: log and report failure, no network."""
    logger.info("evalkit_ifeval: skipping nltk.download%s (offline; punkt_tab not needed)", args)
    return False


@functools.cache
def _lm_eval_ifeval_utils() -> Any:
    """Import ``lm_eval.tasks.ifeval.utils`` on first use (it takes ~2 s) without letting NLTK reach the network."""
    import nltk

    if _punkt_tab_installed():
        from lm_eval.tasks.ifeval import utils as lm_eval_ifeval_utils

        return lm_eval_ifeval_utils
    original_download = nltk.download
    nltk.download = _skip_nltk_download
    try:
        # lm-eval prints "Downloaded punkt_tab on rank 0" whatever the download's outcome; swallow it.
        with contextlib.redirect_stdout(io.StringIO()):
            from lm_eval.tasks.ifeval import utils as lm_eval_ifeval_utils
    finally:
        nltk.download = original_download
    return lm_eval_ifeval_utils


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, Any]:
    """Score one response with lm-eval's IFEval checker (strict and loose, prompt and instruction level).

    Args:
        doc: one IFEval row (``key``, ``prompt``, ``instruction_id_list``, ``kwargs``).
        results: the model's generations for the doc; the first one is scored.

    Returns:
        ``prompt_level_strict_acc`` and ``prompt_level_loose_acc`` (bools) and
        ``inst_level_strict_acc`` and ``inst_level_loose_acc`` (one bool per instruction).
    """
    return _lm_eval_ifeval_utils().process_results(doc, results)


def agg_inst_level_acc(items: list[list[bool]]) -> float:
    """Aggregate instruction-level results: the fraction of all instructions followed, over all prompts.

    Args:
        items: one list of per-instruction booleans for each prompt.

    Returns:
        The share of instructions followed.
    """
    return _lm_eval_ifeval_utils().agg_inst_level_acc(items)
