"""Contamination: training examples that share a word n-gram with an evaluation item.

Every string field of every evaluation item (question, passage, choices, ...) is a separate piece of text. A piece
of 13 words or more is matched by its 13-grams (the GPT-3 decontamination rule); a piece of 8 to 12 words by its
8-grams, so short questions are caught too; shorter pieces ("Paris", "40 degrees C") are too common to attribute
and are skipped. Words are lower-cased ``\\w+`` tokens, so punctuation and case do not hide a copy.

The evaluation items are evalkit's bundled tasks and safety prompt sets, plus any files given: data files that
:func:`tuner.data.io.read_data` reads, or lm-eval task YAMLs whose ``dataset_kwargs`` name local files (``splits:``
as evalkit's bundled tasks do, or ``data_files:``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from evalkit.tasks_resolve import BUNDLED_TASKS_DIR
from tuner.data.duplicates import words
from tuner.data.io import read_data, record_strings
from tuner.data.report import Finding, counted
from tuner.data.schema import Example
from tuner.errors import DataError

LONG_N = 13
SHORT_N = 8


@dataclass(frozen=True)
class ItemRef:
    """Where an evaluation item lives: its file and line (or row)."""

    source: str
    position: int


def bundled_sources() -> list[Path]:
    """evalkit's bundled task data and the safety suite's prompt sets (not the guards' own training exemplars)."""
    import guards.safety

    safety = Path(guards.safety.__file__).parent / "data"
    return sorted((BUNDLED_TASKS_DIR / "data").glob("*.jsonl")) + [safety / name for name in guards.safety.SETS.values()]


class _IgnoreTags(yaml.SafeLoader):
    """Reads task YAMLs without running their ``!function`` tags."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def _yaml_data_files(path: Path) -> list[Path]:
    config = yaml.load(path.read_text(encoding="utf-8"), Loader=_IgnoreTags) or {}
    kwargs = config.get("dataset_kwargs") or {}
    named = kwargs.get("splits") or kwargs.get("data_files") or {}
    files = list(named.values()) if isinstance(named, dict) else [named] if isinstance(named, str) else list(named)
    if not files:
        raise DataError(f"task {path} names no local data files (dataset_kwargs splits: or data_files:): pass its "
                        "data file instead")
    return [path.parent / str(file) for file in files]


def expand_sources(paths: list[Path]) -> list[Path]:
    """Turn task YAMLs into the data files they name; data files and dataset folders pass through."""
    expanded = []
    for path in paths:
        expanded += _yaml_data_files(path) if path.suffix in (".yaml", ".yml") else [path]
    return expanded


def _ngrams(tokens: list[str], size: int) -> Iterator[str]:
    for index in range(len(tokens) - size + 1):
        yield " ".join(tokens[index:index + size])


class EvalIndex:
    """The n-grams of evaluation items, each mapped to the first item it came from."""

    def __init__(self) -> None:
        self.by_size: dict[int, dict[str, ItemRef]] = {LONG_N: {}, SHORT_N: {}}
        self.items = 0

    def add_file(self, path: Path) -> None:
        """Index every item of a data file."""
        data = read_data(path)
        for row in data.rows:
            if row.record is None:
                continue
            self.items += 1
            for piece in record_strings(row.record):
                tokens = words(piece)
                size = LONG_N if len(tokens) >= LONG_N else SHORT_N if len(tokens) >= SHORT_N else 0
                for gram in _ngrams(tokens, size) if size else ():
                    self.by_size[size].setdefault(gram, ItemRef(path.name, row.position))

    def first_match(self, text: str) -> tuple[str, ItemRef] | None:
        """The first n-gram of ``text`` that an evaluation item has, with that item."""
        tokens = words(text)
        for size, grams in self.by_size.items():
            for gram in _ngrams(tokens, size):
                if gram in grams:
                    return gram, grams[gram]
        return None


def build_index(extra: list[Path], *, bundled: bool = True) -> EvalIndex:
    """Index the bundled evaluation items (unless ``bundled`` is false) and the given files or task YAMLs."""
    index = EvalIndex()
    for path in (bundled_sources() if bundled else []) + expand_sources(extra):
        index.add_file(path)
    return index


def contamination(examples: list[Example], index: EvalIndex, unit: str) -> list[Finding]:
    """One error finding listing the examples that share an n-gram with an evaluation item.

    Args:
        examples: the valid examples.
        index: the evaluation items' n-grams.
        unit: ``line`` or ``row``.

    Returns:
        ``[]`` or one finding; ``details`` holds ``{"position", "ngram", "source", "item"}`` per example.
    """
    details = []
    for example in examples:
        match = index.first_match(example.text)
        if match is not None:
            gram, item = match
            details.append({"position": example.position, "ngram": gram, "source": item.source,
                            "item": item.position})
    if not details:
        return []
    first = details[0]
    return [Finding(check="contamination", severity="error", positions=[detail["position"] for detail in details],
                    details=details,
                    message=f"{counted(len(details), unit)} sharing a {LONG_N}- or {SHORT_N}-gram with one of {index.items} "
                            f"evaluation items (e.g. {unit} {first['position']} shares "
                            f"'{first['ngram']}' with {first['source']} item {first['item']}): remove them, or the "
                            "gate's scores will be inflated")]
