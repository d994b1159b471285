"""Checkpoint specs: resolve any supported spec to a fingerprinted :class:`Checkpoint` and load it for scoring."""

from evalkit.checkpoints._load import LoadedModel, load, load_transformers, local_model_dir
from evalkit.checkpoints._resolve import Checkpoint, embedded_gguf_path, resolve

__all__ = ["Checkpoint", "LoadedModel", "embedded_gguf_path", "load", "load_transformers", "local_model_dir",
           "resolve"]
