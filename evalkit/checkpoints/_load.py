"""Load a resolved checkpoint into an lm-eval model object (evalkit's prefix-sharing ``HFLM`` or lm-eval's own
``HFLM`` over the loaded transformers model, or lm-eval's completions client for endpoints)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.checkpoints._gguf import convert_gguf, converted_dir
from evalkit.checkpoints._openai import build_endpoint_lm
from evalkit.checkpoints._resolve import Checkpoint
from evalkit.errors import CheckpointError, SettingsError

if TYPE_CHECKING:
    from lm_eval.api.model import LM

DTYPES = ("auto", "float32", "bfloat16", "float16")
BACKENDS = ("evalkit-prefix", "hf")


@dataclass
class LoadedModel:
    """A checkpoint ready to score.

    Attributes:
        lm: the lm-eval model that runs the tasks.
        model: the transformers model for local checkpoints (``None`` for endpoints).
        tokenizer: its tokenizer (``None`` for endpoints).
        dtype: the torch dtype the weights run in, or ``"remote"``.
        device: where the weights run, or ``"remote"``.
        backend: ``"evalkit-prefix"``, ``"hf"`` or ``"openai"``.
    """

    lm: LM
    model: Any
    tokenizer: Any
    dtype: str
    device: str
    backend: str


def local_model_dir(checkpoint: Checkpoint) -> Path:
    """Return the Hugging Face folder that holds a local checkpoint, converting a GGUF file on first use.

    Args:
        checkpoint: an ``embedded``, ``gguf``, ``hf_dir`` or ``hub`` checkpoint.

    Returns:
        A folder that ``from_pretrained`` reads.
    """
    if checkpoint.kind in ("embedded", "gguf"):
        target = converted_dir(Path(checkpoint.location), checkpoint.fingerprint)
        if not (target / "config.json").is_file():
            convert_gguf(Path(checkpoint.location), target)
        return target
    return Path(checkpoint.location)


def resolve_dtype(dtype: str, device: str) -> str:
    """Choose the weight dtype: ``auto`` means float32 on CPU (measured faster there) and bfloat16 on CUDA.

    Args:
        dtype: one of ``auto``, ``float32``, ``bfloat16``, ``float16``.
        device: the torch device string.

    Returns:
        A concrete torch dtype name.
    """
    if dtype not in DTYPES:
        raise SettingsError(f"--dtype {dtype} is not supported: use one of {', '.join(DTYPES)}")
    if dtype != "auto":
        return dtype
    return "bfloat16" if device.startswith("cuda") else "float32"


def default_device() -> str:
    """Return ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_transformers(checkpoint: Checkpoint, *, dtype: str, device: str) -> tuple[Any, Any]:
    """Load the transformers model and tokenizer of a local checkpoint; adapters are merged into their base.

    Args:
        checkpoint: any checkpoint except an endpoint.
        dtype: a concrete torch dtype name.
        device: the torch device string.

    Returns:
        ``(model, tokenizer)`` with the model in eval mode on ``device``.
    """
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if checkpoint.kind == "adapter":
        assert checkpoint.base is not None
        base_model, tokenizer = load_transformers(checkpoint.base, dtype=dtype, device=device)
        return _merge_adapter(base_model, checkpoint), tokenizer
    folder = local_model_dir(checkpoint)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as error:
        raise CheckpointError(
            f"model {checkpoint.spec} would not load ({type(error).__name__}: {_first_line(error)}): "
            "check that its weights are complete and match its config"
        ) from error
    return model.to(device).eval(), tokenizer


def _merge_adapter(base_model: Any, checkpoint: Checkpoint) -> Any:
    from peft import PeftModel

    try:
        adapted = PeftModel.from_pretrained(base_model, checkpoint.location)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise CheckpointError(
            f"adapter {checkpoint.spec} does not fit its base ({type(error).__name__}: {_first_line(error)}): "
            "check base_model_name_or_path in adapter_config.json"
        ) from error
    return adapted.merge_and_unload().eval()


def load(checkpoint: Checkpoint, *, dtype: str = "auto", device: str | None = None,
         batch_size: int | str = 1, max_batch_size: int = 64, backend: str = "evalkit-prefix") -> LoadedModel:
    """Load a checkpoint and wrap it as an lm-eval model.

    Args:
        checkpoint: the resolved checkpoint.
        dtype: ``auto`` or a torch dtype name (ignored for endpoints).
        device: a torch device; ``None`` picks CUDA when present.
        batch_size: an int, or ``auto`` to let lm-eval find the largest batch that fits.
        max_batch_size: the cap for ``auto``.
        backend: for local checkpoints, ``evalkit-prefix`` (:class:`evalkit.backends.PrefixSharingLM`: each
            distinct context encoded once, same results) or ``hf`` (lm-eval's ``HFLM``); ignored for endpoints.

    Returns:
        The :class:`LoadedModel`.
    """
    if backend not in BACKENDS:
        raise SettingsError(f"backend {backend!r} is not supported: use one of {', '.join(BACKENDS)}")
    if checkpoint.kind == "openai":
        assert checkpoint.endpoint is not None
        size = batch_size if isinstance(batch_size, int) else 1
        return LoadedModel(build_endpoint_lm(checkpoint.endpoint, batch_size=size), None, None,
                           "remote", "remote", "openai")
    from lm_eval.models.huggingface import HFLM

    from evalkit.backends import PrefixSharingLM

    device = device or default_device()
    concrete = resolve_dtype(dtype, device)
    model, tokenizer = load_transformers(checkpoint, dtype=concrete, device=device)
    lm_class = PrefixSharingLM if backend == "evalkit-prefix" else HFLM
    # bf16/fp16 log-softmax flipped predictions in our measurements; scores are normalised in float32.
    lm = lm_class(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, max_batch_size=max_batch_size,
                  device=device, softmax_dtype=None if concrete == "float32" else "float32")
    return LoadedModel(lm, model, tokenizer, concrete, device, backend)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
