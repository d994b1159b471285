"""Auto-block: the screen a response passes before delivery, and the block list of logged responses that fail it.

A response is blocked when the embedded guard's unsafe probability is at or above ``thresholds.unsafe`` (with
``screen.block_unsafe``), when it contains PII of a kind in ``screen.block_pii``, or when it repeats a configured
system prompt (``leakage_overlap`` at or above ``thresholds.leakage``, with ``screen.block_leakage``). The same
rule runs in a serving path (:func:`screen`, ``evalkit monitor screen``) and over ingested logs (:func:`block_list`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.pii import PiiHit, find_pii, redact
from monitor.config import MonitorConfig
from monitor.db import monitor_db, now_iso
from monitor.descriptors import leakage_overlap, load_guards


def block_reasons(unsafe_prob: float, pii_kinds: set[str], overlap: float, config: MonitorConfig) -> list[str]:
    """Return why a response must not be delivered (empty: it may be).

    Args:
        unsafe_prob: the guard's unsafe probability of the response.
        pii_kinds: the PII kinds found in it.
        overlap: its leakage overlap with the configured system prompts.
        config: thresholds and screen settings.

    Returns:
        One reason per failed screen, e.g. ``unsafe response (p=0.93 >= 0.50)``.
    """
    reasons = []
    if config.screen.block_unsafe and unsafe_prob >= config.thresholds.unsafe:
        reasons.append(f"unsafe response (p={unsafe_prob:.2f} >= {config.thresholds.unsafe:.2f})")
    blocking = sorted(pii_kinds & set(config.screen.block_pii))
    if blocking:
        reasons.append(f"PII: {', '.join(blocking)}")
    if config.screen.block_leakage and config.system_prompts and overlap >= config.thresholds.leakage:
        reasons.append(f"system prompt leakage (overlap {overlap:.2f} >= {config.thresholds.leakage:.2f})")
    return reasons


@dataclass(frozen=True)
class ScreenResult:
    """The verdict on one response.

    Attributes:
        allowed: deliver it (no reason to block).
        reasons: why it is blocked.
        redacted: the response with every PII hit replaced by ``[KIND]``.
        unsafe_prob: the guard's unsafe probability.
        leakage_overlap: share of a system prompt's 4-grams it repeats.
        pii: the PII hits.
    """

    allowed: bool
    reasons: list[str]
    redacted: str
    unsafe_prob: float
    leakage_overlap: float
    pii: list[PiiHit] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict."""
        return {"allowed": self.allowed, "reasons": self.reasons, "redacted": self.redacted,
                "unsafe_prob": self.unsafe_prob, "leakage_overlap": self.leakage_overlap,
                "pii": [hit.__dict__ for hit in self.pii]}


def screen(response: str, config: MonitorConfig) -> ScreenResult:
    """Screen one response before delivery (embeds it; loads the guard once per process).

    Args:
        response: the model's response.
        config: thresholds, screen settings and system prompts.

    Returns:
        The verdict, with the PII-redacted text.
    """
    from evalkit.embeddings import embed

    guard, _ = load_guards()
    unsafe = float(guard.unsafe_prob(embed([response], name=config.embedder), mode="response")[0])
    hits = find_pii(response)
    overlap = float(leakage_overlap([response], config.system_prompts)[0])
    reasons = block_reasons(unsafe, {hit.kind for hit in hits}, overlap, config)
    return ScreenResult(allowed=not reasons, reasons=reasons, redacted=redact(response), unsafe_prob=unsafe,
                        leakage_overlap=overlap, pii=hits)


def frame_block_reasons(described: pd.DataFrame, config: MonitorConfig) -> pd.Series:
    """Apply :func:`block_reasons` to described requests (see :func:`monitor.descriptors.describe`).

    Args:
        described: rows with ``response_unsafe_prob``, ``response_pii_kinds`` and ``leakage_overlap``.
        config: thresholds and screen settings.

    Returns:
        A list of reasons per row (empty lists for rows that pass).
    """
    columns = zip(described["response_unsafe_prob"].to_numpy(), described["response_pii_kinds"].to_numpy(),
                  described["leakage_overlap"].to_numpy(), strict=True)
    return pd.Series([block_reasons(float(unsafe), set(kinds.split(",")) - {""}, float(overlap), config)
                      for unsafe, kinds, overlap in columns], index=described.index, dtype=object)


def block_list(described: pd.DataFrame, config: MonitorConfig) -> int:
    """Record every described request whose response fails the screen in ``monitor_blocklist``.

    Args:
        described: newly ingested, described requests.
        config: thresholds and screen settings.

    Returns:
        How many requests were blocked.
    """
    reasons = frame_block_reasons(described, config)
    blocked = described[reasons.map(bool).to_numpy(dtype=bool) if len(reasons) else np.zeros(0, dtype=bool)]
    at = now_iso()
    rows = [(row.request_id, row.timestamp.isoformat(), row.model_version, json.dumps(reasons[index]),
             row.response_hash, at) for index, row in blocked.iterrows()]
    with monitor_db() as db:
        db.executemany("INSERT OR IGNORE INTO monitor_blocklist VALUES (?,?,?,?,?,?)", rows)
    return len(rows)
