"""evalkit's sentence embedder (the embedded MiniLM by default) as a ragas embeddings model, with a per-run cache so
every text is embedded once however many metrics read it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ragas.embeddings.base import BaseRagasEmbedding

from evalkit.embeddings import DEFAULT_EMBEDDER, embed, load_embedder
from evalkit.quiet import quiet_libraries


class EvalkitEmbeddings(BaseRagasEmbedding):
    """Unit-length sentence vectors from :func:`evalkit.embeddings.embed`, cached by text.

    Args:
        name: ``minilm`` (the embedded default) or a sentence-transformers folder.
    """

    def __init__(self, name: str = DEFAULT_EMBEDDER) -> None:
        super().__init__(cache=None)
        with quiet_libraries():  # an unknown embedder fails here, before any scoring; its loading bar is hidden
            load_embedder(name)
        self.name = name
        self._vectors: dict[str, np.ndarray] = {}

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (those not seen before in one batch).

        Args:
            texts: the texts.

        Returns:
            An array of unit vectors, one row per text.
        """
        new = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        if new:
            self._vectors.update(zip(new, embed(new, name=self.name), strict=True))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._vectors[text] for text in texts])

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        """Embed one text (ragas' interface).

        Args:
            text: the text.
            **kwargs: ignored.

        Returns:
            The vector as a list.
        """
        return self.vectors([text])[0].tolist()

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        """Embed one text (ragas' async interface; runs inline).

        Args:
            text: the text.
            **kwargs: ignored.

        Returns:
            The vector as a list.
        """
        return self.embed_text(text)

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """Embed several texts in one batch (ragas' interface).

        Args:
            texts: the texts.
            **kwargs: ignored.

        Returns:
            One vector per text.
        """
        return self.vectors(texts).tolist()

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """Embed several texts in one batch (ragas' async interface; runs inline).

        Args:
            texts: the texts.
            **kwargs: ignored.

        Returns:
            One vector per text.
        """
        return self.embed_texts(texts)
