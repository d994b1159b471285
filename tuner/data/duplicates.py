"""Exact and near-duplicate examples. Exact: the same text after lower-casing and collapsing whitespace. Near: word
3-gram Jaccard similarity at or above a threshold, found with MinHash LSH (``datasketch``) and then confirmed with
the exact Jaccard similarity of the two shingle sets, so no listed pair is a MinHash false positive."""

from __future__ import annotations

import re
from collections import defaultdict

from tuner.data.report import Finding, counted, positions_text
from tuner.data.schema import Example

SHINGLE_WORDS = 3
NUM_PERM = 128
_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    """Lower-case and collapse whitespace: the key of exact duplicates."""
    return " ".join(text.lower().split())


def words(text: str) -> list[str]:
    """The lower-cased word tokens of a text (``\\w+``)."""
    return _WORD.findall(text.lower())


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The set of word ``size``-grams (the whole text when it is shorter)."""
    tokens = words(text)
    if len(tokens) <= size:
        return {" ".join(tokens)}
    return {" ".join(tokens[index:index + size]) for index in range(len(tokens) - size + 1)}


def exact_duplicates(examples: list[Example], unit: str) -> list[Finding]:
    """One error finding listing every group of identical examples (each group's first occurrence is kept).

    Args:
        examples: the valid examples.
        unit: ``line`` or ``row``.

    Returns:
        ``[]`` or one finding; ``details`` holds each group's positions.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for example in examples:
        groups[normalise(example.text)].append(example.position)
    repeated = [positions for positions in groups.values() if len(positions) > 1]
    if not repeated:
        return []
    extra = sorted(position for positions in repeated for position in positions[1:])
    return [Finding(check="exact_duplicates", severity="error", positions=extra,
                    details=[{"positions": positions} for positions in repeated],
                    message=f"{counted(len(extra), unit)} repeating an earlier one ({len(repeated)} group(s), e.g. "
                            f"{positions_text(unit, repeated[0])}): remove the repeats")]


def near_duplicates(examples: list[Example], unit: str, *, threshold: float) -> list[Finding]:
    """One warning finding listing pairs of distinct examples whose word 3-gram Jaccard similarity is at least
    ``threshold``.

    Args:
        examples: the valid examples.
        unit: ``line`` or ``row``.
        threshold: the Jaccard similarity in (0, 1] from which two examples count as near duplicates.

    Returns:
        ``[]`` or one finding; ``details`` holds ``{"a", "b", "similarity"}`` per pair.
    """
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    sets: dict[int, set[str]] = {}
    seen: dict[str, int] = {}
    pairs = []
    for example in examples:
        key = normalise(example.text)
        if key in seen:  # exact duplicates are reported by exact_duplicates
            continue
        seen[key] = example.position
        sets[example.position] = shingles(example.text)
        signature = MinHash(num_perm=NUM_PERM)
        signature.update_batch([shingle.encode("utf-8") for shingle in sets[example.position]])
        for other in lsh.query(signature):
            similarity = len(sets[other] & sets[example.position]) / len(sets[other] | sets[example.position])
            if similarity >= threshold:
                pairs.append({"a": other, "b": example.position, "similarity": round(similarity, 4)})
        lsh.insert(example.position, signature)
    if not pairs:
        return []
    pairs.sort(key=lambda pair: (pair["a"], pair["b"]))
    positions = sorted({pair["b"] for pair in pairs})
    first = pairs[0]
    return [Finding(check="near_duplicates", severity="warning", positions=positions, details=pairs,
                    message=f"{len(pairs)} near-duplicate pair(s) of {unit}s (word 3-gram Jaccard >= {threshold:g}; "
                            f"e.g. {unit}s {first['a']} and {first['b']}: {first['similarity']:.2f}): keep one of "
                            "each pair, or vary them")]
