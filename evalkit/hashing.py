"""Stable content hashes for documents, configs and settings."""

from __future__ import annotations

import hashlib
import inspect
import json
from typing import Any


def _describe(value: Any) -> str:
    """Represent non-JSON values stably: functions by name and source, never by memory address."""
    if callable(value):
        try:
            source = inspect.getsource(value)
        except (OSError, TypeError):
            source = ""
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__name__)}:{source}"
    return str(value)


def json_sha256(value: Any) -> str:
    """Hash a JSON-like value canonically (sorted keys; functions by name and source; others by ``str``).

    Args:
        value: any value; dicts are hashed independent of key order.

    Returns:
        The hex sha256 digest.
    """
    text = json.dumps(value, sort_keys=True, default=_describe, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
