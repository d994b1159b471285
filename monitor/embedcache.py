"""A persistent text → embedding cache, so each distinct text is embedded once, ever.

Production prompts and responses repeat heavily (templates, FAQs), and MiniLM on a CPU embeds only a few hundred
texts a second, so the monitor embeds distinct texts only and keeps their vectors under
``$EVALKIT_HOME/monitor/embeddings/<embedder>/`` as ``.npz`` shards (keys: 128-bit BLAKE2b of the UTF-8 text).
A re-ingest or a re-check never embeds a text again.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from evalkit.atomic import write_bytes_atomic
from evalkit.embeddings import embed
from evalkit.home import evalkit_home

Progress = Callable[[int, int], None]
_BATCH = 256
_MAX_SHARDS = 64


def text_hash(text: str) -> str:
    """Return the cache key of a text: 32 hex characters of its BLAKE2b-128 digest."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class EmbeddingCache:
    """Vectors of every text the monitor has seen, keyed by :func:`text_hash`."""

    def __init__(self, embedder: str = "minilm", folder: Path | None = None) -> None:
        self.embedder = embedder
        safe = embedder if embedder.isidentifier() else text_hash(str(Path(embedder).resolve()))
        self.folder = folder or evalkit_home() / "monitor" / "embeddings" / safe
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._load()

    def _load(self) -> None:
        keys, blocks = [], []
        for shard in sorted(self.folder.glob("shard-*.npz")):
            with np.load(shard) as data:
                keys.extend(data["keys"].astype(str).tolist())
                blocks.append(data["vectors"].astype(np.float32))
        if blocks:
            self._vectors = np.vstack(blocks)
            self._rows = {key: row for row, key in enumerate(keys)}

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, keys: Sequence[str]) -> np.ndarray:
        """Return the cached vectors of ``keys`` (each must be cached), one row per key."""
        return self._vectors[[self._rows[key] for key in keys]]

    def ensure(self, texts: Sequence[str], *, progress: Progress | None = None) -> list[str]:
        """Embed the texts that are not cached yet, store them in a new shard, and return every text's key.

        Args:
            texts: any texts, repeats allowed (each distinct text is embedded at most once).
            progress: called with ``(done, total)`` distinct new texts after each batch.

        Returns:
            The keys of ``texts``, in order.
        """
        keys = [text_hash(text) for text in texts]
        new: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._rows and key not in new:
                new[key] = text
        if new:
            pending = list(new.values())
            blocks = []
            for first in range(0, len(pending), _BATCH):
                blocks.append(embed(pending[first:first + _BATCH], name=self.embedder))
                if progress is not None:
                    progress(min(first + _BATCH, len(pending)), len(pending))
            self._append(list(new), np.vstack(blocks))
        return keys

    def vectors(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """Return the embeddings of ``texts`` (computing and caching the missing ones), one row per text."""
        return self.get(self.ensure(texts, progress=progress))

    def _append(self, keys: list[str], vectors: np.ndarray) -> None:
        start = len(self._rows)
        self._vectors = vectors if not len(self._rows) else np.vstack([self._vectors, vectors])
        self._rows.update({key: start + offset for offset, key in enumerate(keys)})
        shards = sorted(self.folder.glob("shard-*.npz"))
        if len(shards) + 1 > _MAX_SHARDS:
            self._write_shard(list(self._rows), self._vectors)
            for shard in shards:
                shard.unlink(missing_ok=True)
        else:
            self._write_shard(keys, vectors)

    def _write_shard(self, keys: list[str], vectors: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.array(keys, dtype="S32"), vectors=vectors.astype(np.float32))
        name = f"shard-{datetime.now(UTC):%Y%m%d%H%M%S%f}-{secrets.token_hex(3)}.npz"
        write_bytes_atomic(self.folder / name, buffer.getvalue())
