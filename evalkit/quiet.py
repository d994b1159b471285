"""Silence library chatter (lm-eval config warnings, transformers loading bars, task-module prints) around steps
whose real problems surface as exceptions, so that bad input ends in exactly one error line and ``--json``
keeps stdout clean."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Raise lm-eval's log level to ERROR, hide transformers progress bars, and swallow stray prints.

    transformers' logging is imported first, so its handler keeps the real stderr for errors logged later.
    """
    from transformers.utils import logging as hf_logging

    logger = logging.getLogger("lm_eval")
    level = logger.level
    bars_enabled = hf_logging.is_progress_bar_enabled()
    logger.setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)
        if bars_enabled:
            hf_logging.enable_progress_bar()
