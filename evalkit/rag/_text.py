"""The text units the hand-written metrics count: sentences, and content tokens (lower-cased words and numbers,
stop words dropped, Porter-stemmed), so "charges" in an answer matches "charging" in a chunk and "2,000" matches
"2000"."""

from __future__ import annotations

import re
from functools import lru_cache

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+")
# Number words carry the facts these metrics look for ("five hours"), so they are not stop words here.
_KEEP = frozenset([
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "hundred", "first", "second", "third", "last", "no",
    "not", "never",
])


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) - _KEEP


@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


def sentences(text: str) -> list[str]:
    """Split text into sentences at ``.``, ``!`` or ``?`` followed by white space, and at line breaks.

    Args:
        text: any text.

    Returns:
        The non-empty sentences, stripped; ``[text]`` when there is no break.
    """
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def content_tokens(text: str) -> frozenset[str]:
    """The distinct content tokens of a text.

    Args:
        text: any text.

    Returns:
        Lower-cased words (Porter stems) and numbers (thousands separators removed), without stop words.
    """
    stop, stem = _stop_words(), _stemmer()
    tokens = set()
    for token in _TOKEN.findall(text.lower()):
        if token[0].isdigit():
            tokens.add(re.sub(r",(?=\d{3}\b)", "", token))
        elif token not in stop:
            tokens.add(stem.stem(token))
    return frozenset(tokens)
