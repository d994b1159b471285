"""Label or category imbalance and the guide's remedies: oversampling the minority classes, undersampling the
majority, or class weights inversely proportional to class frequency (scikit-learn's ``balanced`` weights)."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from tuner.data.report import Finding
from tuner.data.schema import Example

Balance = Literal["oversample", "undersample"]


def label_counts(examples: list[Example]) -> dict[str, int]:
    """How many examples carry each label (examples without one are not counted)."""
    return dict(sorted(Counter(example.label for example in examples if example.label is not None).items()))


def class_weights(counts: dict[str, int]) -> dict[str, float]:
    """scikit-learn's ``balanced`` class weights, ``n / (classes * count)``."""
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    if len(counts) < 2:
        return {}
    labels = np.array([label for label, count in counts.items() for _ in range(count)])
    weights = compute_class_weight("balanced", classes=np.array(list(counts)), y=labels)
    return {label: round(float(weight), 4) for label, weight in zip(counts, weights, strict=True)}


def imbalance_findings(counts: dict[str, int], field: str, *, max_ratio: float) -> list[Finding]:
    """A warning with the remedies when the largest class is more than ``max_ratio`` times the smallest.

    Args:
        counts: examples per label.
        field: the label field's name.
        max_ratio: the largest tolerated majority/minority ratio.

    Returns:
        ``[]`` or one finding.
    """
    if len(counts) < 2:
        return []
    ratio = max(counts.values()) / min(counts.values())
    if ratio <= max_ratio:
        return []
    classes = len(counts)
    weights = ", ".join(f"{label} {weight:g}" for label, weight in class_weights(counts).items())
    summary = ", ".join(f"{label} {count}" for label, count in counts.items())
    return [Finding(check="imbalance", severity="warning", details=[{"counts": counts, "ratio": round(ratio, 3)}],
                    message=f"{field!r} is imbalanced ({summary}; ratio {ratio:.1f} > {max_ratio:g}). Remedies: "
                            f"oversample to {max(counts.values()) * classes} examples, undersample to "
                            f"{min(counts.values()) * classes}, or class weights ({weights}); --balance "
                            "oversample|undersample applies one to the train split")]


def rebalance(examples: list[Example], how: Balance, *, seed: int) -> list[Example]:
    """Over- or undersample labelled examples to equal class sizes (``sklearn.utils.resample``); examples without a
    label are kept once. Apply it to the training split only, never to the evaluation split.

    Args:
        examples: the training examples.
        how: ``oversample`` (every class drawn up to the largest, with replacement, originals kept) or
            ``undersample`` (every class drawn down to the smallest, without replacement).
        seed: the random state.

    Returns:
        The rebalanced examples.
    """
    from sklearn.utils import resample

    by_label: dict[str, list[Example]] = {}
    for example in examples:
        if example.label is not None:
            by_label.setdefault(example.label, []).append(example)
    if len(by_label) < 2:
        return list(examples)
    target = (max if how == "oversample" else min)(len(group) for group in by_label.values())
    balanced = [example for example in examples if example.label is None]
    for group in by_label.values():
        if how == "oversample":
            extra = target - len(group)
            balanced += group + (resample(group, replace=True, n_samples=extra, random_state=seed) if extra else [])
        else:
            balanced += resample(group, replace=False, n_samples=target, random_state=seed)
    return balanced
