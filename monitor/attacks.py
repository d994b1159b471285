"""Prompt-injection and jailbreak detection: embedding similarity to a bundled set of known attack prompts
(``monitor/data/attacks.jsonl``: 60 injections and 40 jailbreaks in 16 techniques, written for evalkit), and
regular expressions for the injection phrasings that recur in the wild."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor._errors import MonitorError
from monitor.embedcache import EmbeddingCache

ATTACKS = Path(__file__).parent / "data" / "attacks.jsonl"
KINDS = ("injection", "jailbreak")

INJECTION_PATTERNS = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|the\s+|your\s+|my\s+)*"
    r"(?:previous|prior|above|earlier|preceding|original|system)\s+(?:instructions?|prompts?|rules|directions)"
    r"|\b(?:reveal|print|show|repeat|output|leak)\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|entire\s+|hidden\s+|"
    r"initial\s+|original\s+)*(?:system\s+prompt|instructions|hidden\s+prompt)"
    r"|\byou\s+are\s+now\s+(?:in\s+)?(?:DAN|developer\s+mode|jailbroken|unrestricted|an?\s+unfiltered)"
    r"|\bdo\s+anything\s+now\b"
    r"|\bpretend\s+(?:that\s+)?you\s+(?:are|have)\s+no\s+(?:rules|restrictions|guidelines|filters)"
    r"|\bnew\s+instructions?\s*:"
    r"|<\s*/?\s*(?:system|im_start|im_end)\s*>|\[/?INST\]",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Attack:
    """One known attack prompt."""

    id: str
    kind: str
    technique: str
    prompt: str


def load_attacks(path: Path = ATTACKS) -> list[Attack]:
    """Load an attack set (JSON lines with ``id``, ``kind`` (injection or jailbreak), ``technique``, ``prompt``).

    Args:
        path: the file; the bundled set by default.

    Returns:
        The attacks.

    Raises:
        MonitorError: the file is missing or a line lacks a field or has an unknown kind.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise MonitorError(f"attack set {path} cannot be read ({error.strerror}): reinstall evalkit") from None
    attacks = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            attack = Attack(**{key: str(value) for key, value in json.loads(line).items()})
        except (json.JSONDecodeError, TypeError) as error:
            raise MonitorError(f"attack set {path} line {number} is invalid ({error}): it needs id, kind, "
                               "technique and prompt") from None
        if attack.kind not in KINDS:
            raise MonitorError(f"attack set {path} line {number} has kind {attack.kind!r}: use injection or jailbreak")
        attacks.append(attack)
    return attacks


def injection_pattern(texts: Sequence[str]) -> np.ndarray:
    """Return 1.0 for each text that contains a known injection phrasing (see :data:`INJECTION_PATTERNS`), else 0.0."""
    return np.array([float(bool(INJECTION_PATTERNS.search(text))) for text in texts], dtype=np.float64)


class AttackIndex:
    """The embedded attack set, for nearest-attack similarity per kind."""

    def __init__(self, cache: EmbeddingCache, attacks: Sequence[Attack] | None = None) -> None:
        attacks = load_attacks() if attacks is None else attacks
        self.vectors = {kind: cache.vectors([a.prompt for a in attacks if a.kind == kind]) for kind in KINDS}

    def similarity(self, prompt_vectors: np.ndarray, kind: str) -> np.ndarray:
        """Return each prompt's highest cosine similarity to an attack of ``kind`` (vectors are unit length).

        Args:
            prompt_vectors: ``(n, dim)`` unit vectors.
            kind: ``injection`` or ``jailbreak``.

        Returns:
            ``(n,)`` similarities in [-1, 1] (0 when the set has no attack of that kind).
        """
        attack_vectors = self.vectors[kind]
        if not len(attack_vectors) or not len(prompt_vectors):
            return np.zeros(len(prompt_vectors))
        return (prompt_vectors @ attack_vectors.T).max(axis=1).astype(np.float64)
