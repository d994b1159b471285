"""The base model of a fine-tune: any evalkit checkpoint spec that is a full local model, as a Hugging Face folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.checkpoints import Checkpoint, local_model_dir, resolve
from tuner.errors import TuneError


@dataclass(frozen=True)
class TrainingBase:
    """A resolved base model.

    Attributes:
        checkpoint: the resolved spec (with its fingerprint).
        folder: the Hugging Face folder that ``from_pretrained`` reads (a GGUF is converted on first use).
        reference: what a trained adapter's ``base_model_name_or_path`` says, so that ``evalkit score ADAPTER``
            finds the base again: the spec for ``smollm2`` and hub ids, the absolute path otherwise.
    """

    checkpoint: Checkpoint
    folder: Path
    reference: str


def resolve_base(spec: str) -> TrainingBase:
    """Resolve a base spec to a local folder.

    Args:
        spec: ``smollm2``, a model folder, a hub id or a ``.gguf`` file.

    Returns:
        The :class:`TrainingBase`.

    Raises:
        TuneError: the spec is an adapter or an endpoint, which cannot be fine-tuned here.
        CheckpointError: the spec does not resolve.
    """
    checkpoint = resolve(spec)
    if checkpoint.kind == "openai":
        raise TuneError(f"base {spec} is an endpoint: fine-tuning needs local weights (smollm2, a folder, a hub id "
                        "or a .gguf file)")
    if checkpoint.kind == "adapter":
        base = checkpoint.base.spec if checkpoint.base else "its base"
        raise TuneError(f"base {spec} is a PEFT adapter: train from {base}, or from a merged model folder")
    reference = spec if checkpoint.kind in ("embedded", "hub") else str(Path(checkpoint.location).resolve())
    return TrainingBase(checkpoint, local_model_dir(checkpoint), reference)


def load_tokenizer(base: TrainingBase) -> Any:
    """The base model's tokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base.folder)
