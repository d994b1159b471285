"""Where evalkit keeps its state: ``$EVALKIT_HOME`` (default ``./.evalkit``)."""

from __future__ import annotations

import os
from pathlib import Path


def evalkit_home() -> Path:
    """Return the root folder of the run store, model cache and result cache.

    Returns:
        ``$EVALKIT_HOME`` when set, else ``.evalkit`` in the working directory (not created here).
    """
    return Path(os.environ.get("EVALKIT_HOME", ".evalkit")).resolve()
