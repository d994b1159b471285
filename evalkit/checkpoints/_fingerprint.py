"""Content fingerprints of checkpoints: sha256 over config and weight files, cached by path, size and mtime."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from evalkit.home import evalkit_home

FINGERPRINT_SUFFIXES = (".json", ".safetensors", ".bin", ".pt", ".pth", ".gguf", ".model", ".txt", ".tiktoken")
_CHUNK = 1 << 20


def _cache_connection() -> sqlite3.Connection:
    path = evalkit_home() / "cache" / "file_hashes.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30)
    connection.execute(
        "CREATE TABLE IF NOT EXISTS file_hashes "
        "(path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT)"
    )
    return connection


def file_sha256(path: Path) -> str:
    """Hash one file, reusing the stored hash while its size and mtime are unchanged.

    Args:
        path: a regular file.

    Returns:
        The hex sha256 of the file's bytes.
    """
    stat = path.stat()
    key = str(path.resolve())
    with _cache_connection() as connection:
        row = connection.execute(
            "SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ?",
            (key, stat.st_size, stat.st_mtime_ns),
        ).fetchone()
        if row:
            return str(row[0])
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        connection.execute(
            "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?)",
            (key, stat.st_size, stat.st_mtime_ns, digest.hexdigest()),
        )
    return digest.hexdigest()


def model_files(directory: Path) -> list[Path]:
    """List the files of a model folder that define it: configs, tokenizer files and weights.

    Args:
        directory: a Hugging Face model or PEFT adapter folder.

    Returns:
        The matching files, sorted by name.
    """
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_file() and path.suffix in FINGERPRINT_SUFFIXES and not path.name.startswith(".")
    )


def fingerprint_files(files: Iterable[Path], *, extra: Iterable[str] = ()) -> str:
    """Combine file hashes (and extra strings, such as a base model's fingerprint) into one fingerprint.

    Args:
        files: the files that make up the checkpoint.
        extra: further identity strings folded into the digest.

    Returns:
        ``sha256:<hex>`` over the sorted (file name, file hash) pairs and the extra strings.
    """
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda item: item.name):
        digest.update(f"{path.name}\0{file_sha256(path)}\n".encode())
    for item in extra:
        digest.update(f"extra\0{item}\n".encode())
    return f"sha256:{digest.hexdigest()}"
