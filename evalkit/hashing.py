"""Stable content hashes for documents, configs and settings."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def json_sha256(value: Any) -> str:
    """Hash a JSON-like value canonically (sorted keys; non-JSON values by their ``str``).

    Args:
        value: any value; dicts are hashed independent of key order.

    Returns:
        The hex sha256 digest.
    """
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
