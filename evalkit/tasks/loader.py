"""Load bundled task data (JSONL files beside the task YAMLs) for lm-eval's ``custom_dataset`` hook.

A bundled task YAML names this loader and its files::

    custom_dataset: !function loader.load_splits
    dataset_kwargs:
      splits:
        test: data/evalkit_mmlu.jsonl

Paths are relative to this folder, so the tasks work from any working directory and fully offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

TASKS_DIR = Path(__file__).resolve().parent


def load_splits(splits: dict[str, str], **_metadata: Any) -> datasets.DatasetDict:
    """Read each split's JSONL file into a ``datasets.DatasetDict``.

    Args:
        splits: split name to a JSONL path relative to the bundled tasks folder.
        **_metadata: the task's ``metadata`` block, which lm-eval also passes; unused.

    Returns:
        One ``Dataset`` per split, rows in file order.
    """
    return datasets.DatasetDict(
        {name: datasets.Dataset.from_json(str(TASKS_DIR / rel_path)) for name, rel_path in splits.items()}
    )
