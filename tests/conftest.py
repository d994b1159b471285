"""Shared fixtures: an isolated EVALKIT_HOME per test, offline hubs, tiny models, and the embedded model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.tiny import save_tiny_model


@pytest.fixture
def evalkit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty EVALKIT_HOME for one test."""
    home = tmp_path / "evalkit-home"
    monkeypatch.setenv("EVALKIT_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama saved as a Hugging Face folder (read-only for tests: copy it to modify it)."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One EVALKIT_HOME for the slow tests, so the embedded GGUF is converted once per session."""
    home = tmp_path_factory.mktemp("shared-home")
    previous = os.environ.get("EVALKIT_HOME")
    os.environ["EVALKIT_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("EVALKIT_HOME", None)
    else:
        os.environ["EVALKIT_HOME"] = previous
