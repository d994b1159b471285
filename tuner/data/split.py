"""The train/evaluation split: 80:20 by default, stratified by the label or category field when the data has one
(``sklearn.model_selection.train_test_split``), with a fixed seed and a manifest of the data hashes."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.atomic import write_text_atomic
from evalkit.hashing import json_sha256
from tuner.data.balance import Balance, label_counts, rebalance
from tuner.data.io import write_records
from tuner.data.schema import Example
from tuner.errors import DataError

NO_LABEL = "<no label>"


@dataclass(frozen=True)
class Split:
    """Training and evaluation examples and how they were drawn.

    Attributes:
        train: the training examples (rebalanced when asked).
        eval: the evaluation examples (never rebalanced).
        stratified_by: the label field the split kept proportional, or ``None``.
        note: why the split was not stratified, if it was not.
    """

    train: list[Example]
    eval: list[Example]
    stratified_by: str | None
    note: str = ""


def _strata(examples: list[Example], field: str | None, eval_fraction: float) -> tuple[list[str] | None, str]:
    if field is None:
        return None, "no label or category field: random split"
    labels = [example.label or NO_LABEL for example in examples]
    counts = Counter(labels)
    eval_size = max(1, round(len(examples) * eval_fraction))
    if len(counts) < 2:
        return None, f"{field!r} has one value: random split"
    if min(counts.values()) < 2 or eval_size < len(counts) or len(examples) - eval_size < len(counts):
        return None, f"{field!r} has classes too small to stratify at this size: random split"
    return labels, ""


def split_examples(examples: list[Example], *, label_field: str | None, eval_fraction: float = 0.2, seed: int = 42,
                   balance: Balance | None = None) -> Split:
    """Split examples into training and evaluation sets.

    Args:
        examples: the valid examples.
        label_field: stratify by this field's values (``None``: a random split).
        eval_fraction: the evaluation share (0.2 gives the guide's 80:20).
        seed: the random state of the split and of any rebalancing.
        balance: over- or undersample the training split to equal classes.

    Returns:
        The :class:`Split`.

    Raises:
        DataError: fewer than two examples.
    """
    from sklearn.model_selection import train_test_split

    if len(examples) < 2:
        raise DataError(f"{len(examples)} valid example(s) cannot be split into training and evaluation sets: add "
                        "examples or give an evaluation file")
    strata, note = _strata(examples, label_field, eval_fraction)
    train, held_out = train_test_split(examples, test_size=eval_fraction, random_state=seed, stratify=strata)
    if balance is not None:
        train = rebalance(train, balance, seed=seed)
    return Split(list(train), list(held_out), label_field if strata else None, note)


def examples_sha256(examples: list[Example]) -> str:
    """sha256 over the examples' records, in order (independent of the file format)."""
    return json_sha256([example.record for example in examples])


def split_manifest(split: Split, *, source: str, source_sha256: str, eval_fraction: float, seed: int,
                   balance: Balance | None) -> dict[str, Any]:
    """The manifest of a split: where it came from, how it was drawn, and the hashes and class counts of each part."""
    return {
        "source": source, "source_sha256": source_sha256, "seed": seed, "eval_fraction": eval_fraction,
        "stratified_by": split.stratified_by, "note": split.note, "balance": balance,
        "train": {"examples": len(split.train), "sha256": examples_sha256(split.train),
                  "label_counts": label_counts(split.train)},
        "eval": {"examples": len(split.eval), "sha256": examples_sha256(split.eval),
                 "label_counts": label_counts(split.eval)},
    }


def write_split(split: Split, folder: Path, manifest: dict[str, Any]) -> dict[str, str]:
    """Write ``train.jsonl``, ``eval.jsonl`` (the original records) and ``manifest.json`` into ``folder``.

    Returns:
        The written paths by name.
    """
    paths = {"train": folder / "train.jsonl", "eval": folder / "eval.jsonl", "manifest": folder / "manifest.json"}
    write_records(paths["train"], [example.record for example in split.train])
    write_records(paths["eval"], [example.record for example in split.eval])
    write_text_atomic(paths["manifest"], json.dumps(manifest, indent=2) + "\n")
    return {name: str(path) for name, path in paths.items()}
