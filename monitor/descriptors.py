"""Per-request descriptors (``monitor.catalog.DESCRIPTOR_COLUMNS``), computed once per distinct text.

Lengths come from Evidently's ``TextLength`` and ``WordCount`` descriptors, refusal from the safety suite's
``RefusalDetector``, unsafe probabilities from the embedded reference guard, PII from :mod:`evalkit.pii`, attack
similarity from :mod:`monitor.attacks`, and prompt leakage from the configured system prompts. Every score that
needs an embedding reads it from the :class:`~monitor.embedcache.EmbeddingCache`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from evalkit.pii import find_pii
from monitor.attacks import AttackIndex, injection_pattern
from monitor.embedcache import EmbeddingCache, Progress

Notify = Callable[[str], None]
_WORD = re.compile(r"\w+")
_NGRAM = 4


@lru_cache(maxsize=1)
def load_guards() -> tuple[Any, Any]:
    """Return the embedded reference guard and the refusal detector, loaded once per process."""
    from guards.reference import ReferenceGuard
    from guards.refusal import RefusalDetector

    return ReferenceGuard.load(), RefusalDetector.load()


def text_lengths(texts: Sequence[str]) -> pd.DataFrame:
    """Return ``chars`` and ``words`` per text, computed by Evidently's TextLength and WordCount descriptors."""
    from evidently import DataDefinition, Dataset
    from evidently.descriptors import TextLength, WordCount

    frame = pd.DataFrame({"text": list(texts)})
    if frame.empty:
        return pd.DataFrame({"chars": [], "words": []}, dtype="float64")
    dataset = Dataset.from_pandas(frame, data_definition=DataDefinition(text_columns=["text"]),
                                  descriptors=[TextLength("text", alias="chars"), WordCount("text", alias="words")])
    return dataset.as_dataframe()[["chars", "words"]].astype("float64").reset_index(drop=True)


def _ngrams(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + _NGRAM]) for i in range(len(words) - _NGRAM + 1)}


def leakage_overlap(responses: Sequence[str], system_prompts: Sequence[str]) -> np.ndarray:
    """Return, per response, the largest share of a system prompt's word 4-grams that the response repeats.

    Args:
        responses: the responses.
        system_prompts: the configured system prompts (an empty list gives zeros).

    Returns:
        ``(n,)`` shares in [0, 1]: 1.0 means the response contains a whole system prompt.
    """
    prompt_grams = [grams for grams in (_ngrams(prompt) for prompt in system_prompts) if grams]
    if not prompt_grams:
        return np.zeros(len(responses))
    out = np.zeros(len(responses))
    for index, response in enumerate(responses):
        grams = _ngrams(response)
        out[index] = max(len(grams & prompt) / len(prompt) for prompt in prompt_grams) if grams else 0.0
    return out


def _pii(responses: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    hits = [find_pii(text) for text in responses]
    return (np.array([len(found) for found in hits], dtype=np.float64),
            [",".join(sorted({hit.kind for hit in found})) for found in hits])


def describe_texts(prompts: Sequence[str], responses: Sequence[str], *, cache: EmbeddingCache,
                   system_prompts: Sequence[str], notify: Notify, progress: Progress) -> tuple[pd.DataFrame,
                                                                                               pd.DataFrame]:
    """Describe distinct prompts and distinct responses.

    Args:
        prompts: distinct prompt texts.
        responses: distinct response texts.
        cache: the embedding cache (new texts are embedded and stored).
        system_prompts: texts whose leakage into responses is measured.
        notify: receives a status line per stage.
        progress: receives ``(done, total)`` while embedding.

    Returns:
        ``(prompt_table, response_table)``, indexed by text, with the prompt-side and response-side descriptor
        columns and the ``*_hash`` embedding keys.
    """
    notify("embedding new texts")
    keys = cache.ensure([*prompts, *responses], progress=progress)
    prompt_keys, response_keys = keys[:len(prompts)], keys[len(prompts):]
    prompt_vectors, response_vectors = cache.get(prompt_keys), cache.get(response_keys)
    notify("scoring prompts and responses")
    guard, refusal = load_guards()
    attacks = AttackIndex(cache)
    prompt_lengths, response_lengths = text_lengths(prompts), text_lengths(responses)
    prompt_table = pd.DataFrame({
        "prompt_hash": prompt_keys,
        "prompt_chars": prompt_lengths["chars"].to_numpy(), "prompt_words": prompt_lengths["words"].to_numpy(),
        "prompt_unsafe_prob": guard.unsafe_prob(prompt_vectors, mode="prompt"),
        "injection_similarity": attacks.similarity(prompt_vectors, "injection"),
        "jailbreak_similarity": attacks.similarity(prompt_vectors, "jailbreak"),
        "injection_pattern": injection_pattern(prompts),
    }, index=pd.Index(prompts, name="prompt"))
    pii_count, pii_kinds = _pii(responses)
    system_vectors = cache.vectors(list(system_prompts))
    prompt_similarity = (response_vectors @ system_vectors.T).max(axis=1) if len(system_vectors) and \
        len(response_vectors) else np.zeros(len(responses))
    response_table = pd.DataFrame({
        "response_hash": response_keys,
        "response_chars": response_lengths["chars"].to_numpy(), "response_words": response_lengths["words"].to_numpy(),
        "refusal_prob": refusal.refusal_prob(list(responses), response_vectors) if len(responses) else [],
        "response_unsafe_prob": guard.unsafe_prob(response_vectors, mode="response"),
        "response_pii_count": pii_count, "response_pii_kinds": pii_kinds,
        "leakage_overlap": leakage_overlap(responses, system_prompts),
        "leakage_similarity": np.asarray(prompt_similarity, dtype=np.float64),
    }, index=pd.Index(responses, name="response"))
    return prompt_table, response_table


def describe(requests: pd.DataFrame, *, cache: EmbeddingCache, system_prompts: Sequence[str], notify: Notify,
             progress: Progress) -> pd.DataFrame:
    """Add the descriptor columns to validated requests, computing each score once per distinct text.

    Args:
        requests: rows from :func:`monitor.logs.validate`.
        cache: the embedding cache.
        system_prompts: see :func:`describe_texts`.
        notify: receives a status line per stage.
        progress: receives ``(done, total)`` while embedding.

    Returns:
        ``requests`` with the descriptor columns of :data:`monitor.catalog.DESCRIPTOR_COLUMNS` (``feedback`` was
        already there) plus ``prompt_hash``, ``response_hash``, ``response_pii_kinds`` and ``injection_pattern``.
    """
    prompts = requests["prompt"].drop_duplicates().tolist()
    responses = requests["response"].drop_duplicates().tolist()
    prompt_table, response_table = describe_texts(prompts, responses, cache=cache, system_prompts=system_prompts,
                                                  notify=notify, progress=progress)
    described = requests.join(prompt_table, on="prompt").join(response_table, on="response")
    return described.reset_index(drop=True)
