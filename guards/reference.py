"""``reference``, the embedded default guard: MiniLM sentence embeddings of the judged turn and calibrated logistic
regressions trained on exemplars written for evalkit (``guards/data/exemplars.jsonl``; rebuild with
``python -m guards.train``). It works offline with what PyPI ships. It is a baseline, not a Llama Guard equal: its
cross-validated precision and recall per category are in the README.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from evalkit.embeddings import embed
from guards._conversation import Conversation, last_exchange, mode_of
from guards._linear import CalibratedLinear, LinearMulticlass, binary_from, load_arrays, multiclass_from
from guards._registry import GuardEntry, GuardOptions, register
from guards._verdict import Category, Verdict, label_for
from guards.taxonomy import LLAMA_GUARD_3, check_codes

ARTIFACT = Path(__file__).parent / "artifacts" / "reference.npz"
Mode = Literal["prompt", "response"]


class ReferenceGuard:
    """Classifies a request (prompt mode) or a reply (response mode) from its MiniLM embedding."""

    name = "reference"

    def __init__(self, detectors: dict[str, CalibratedLinear], categories: LinearMulticlass, *,
                 threshold: float = 0.5, excluded: tuple[str, ...] = ()) -> None:
        check_codes(excluded, LLAMA_GUARD_3, guard=self.name)
        self.detectors = detectors
        self.category_model = categories
        self.threshold = threshold
        self.excluded = excluded

    @classmethod
    def load(cls, path: Path = ARTIFACT, *, threshold: float = 0.5, excluded: tuple[str, ...] = ()) -> ReferenceGuard:
        """Load the shipped classifier (or one that ``python -m guards.train`` wrote to ``path``)."""
        detectors, categories = _load_models(path)
        return cls(detectors, categories, threshold=threshold, excluded=excluded)

    def unsafe_prob(self, embeddings: np.ndarray, *, mode: Mode) -> np.ndarray:
        """Return P(unsafe) for each embedded text, times P(category not excluded | unsafe) when categories are
        excluded.

        Args:
            embeddings: MiniLM vectors of the judged texts (requests in prompt mode, replies in response mode).
            mode: which detector to use.

        Returns:
            ``(n,)`` probabilities.
        """
        probability = self.detectors[mode].predict_proba(embeddings)
        if self.excluded:
            category_probs = self.category_model.predict_proba(embeddings)
            kept = [index for index, code in enumerate(self.category_model.classes) if code not in self.excluded]
            probability = probability * category_probs[:, kept].sum(axis=1)
        return probability

    def top_category(self, embeddings: np.ndarray) -> list[str]:
        """Return the most likely hazard code (among those not excluded) for each embedded text."""
        probs = self.category_model.predict_proba(embeddings)
        for index, code in enumerate(self.category_model.classes):
            if code in self.excluded:
                probs[:, index] = -1.0
        return [self.category_model.classes[index] for index in probs.argmax(axis=1)]

    def score(self, conversations: Sequence[Conversation]) -> list[Verdict]:
        """Score each conversation's last turn; see :class:`guards.Guard`."""
        modes = [mode_of(conv) for conv in conversations]
        texts = [_judged_text(conv) for conv in conversations]
        vectors = embed(texts)
        probs = np.zeros(len(texts))
        for mode in ("prompt", "response"):
            rows = [index for index, row_mode in enumerate(modes) if row_mode == mode]
            if rows:
                probs[rows] = self.unsafe_prob(vectors[rows], mode=mode)
        codes = self.top_category(vectors) if len(texts) else []
        verdicts = []
        for prob, code, mode in zip(probs, codes, modes, strict=True):
            label = label_for(float(prob), self.threshold)
            categories = (Category(code=code, name=LLAMA_GUARD_3[code]),) if label == "unsafe" else ()
            verdicts.append(Verdict(unsafe_prob=float(prob), label=label, categories=categories,
                                    raw={"mode": mode, "top_category": code, "threshold": self.threshold}))
        return verdicts


def _judged_text(conv: Conversation) -> str:
    request, response = last_exchange(conv)
    return request if response is None else response


@lru_cache(maxsize=2)
def _load_models(path: Path) -> tuple[dict[str, CalibratedLinear], LinearMulticlass]:
    arrays = load_arrays(path)
    detectors = {mode: binary_from(arrays, mode) for mode in ("prompt", "response")}
    return detectors, multiclass_from(arrays, "category")


def _build(options: GuardOptions) -> ReferenceGuard:
    return ReferenceGuard.load(Path(options.checkpoint) if options.checkpoint else ARTIFACT,
                               threshold=options.threshold, excluded=options.excluded)


def _render(conv: Conversation, options: GuardOptions) -> str:
    return _judged_text(conv)


register(GuardEntry(name="reference", summary="embedded default: MiniLM embeddings + calibrated classifier "
                    "(offline baseline, not a Llama Guard equal)", default_checkpoint=None, build=_build,
                    render=_render))
