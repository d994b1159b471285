"""Convert a GGUF file into a Hugging Face safetensors folder once, and reuse it afterwards.

transformers can load GGUF weights but refuses ``save_pretrained`` on the result, and de-quantising takes
tens of seconds. Rebuilding the model from its config and loading the de-quantised state dict gives the same
logits and saves normally, so later loads take about a second.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from evalkit.errors import CheckpointError
from evalkit.home import evalkit_home


def check_gguf(path: Path) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is a readable GGUF file.

    Args:
        path: the ``.gguf`` file.
    """
    import gguf

    try:
        gguf.GGUFReader(path)
    except (ValueError, OSError, IndexError, KeyError) as error:
        raise CheckpointError(
            f"{path} is not a readable GGUF file ({type(error).__name__}: {error}): re-download or re-export it"
        ) from error


def converted_dir(path: Path, fingerprint: str) -> Path:
    """Return the cache folder for the converted form of a GGUF file with the given fingerprint.

    Args:
        path: the ``.gguf`` file.
        fingerprint: its content fingerprint (``sha256:<hex>``).

    Returns:
        ``$EVALKIT_HOME/models/<file stem>-<first 16 hex digits>``.
    """
    return evalkit_home() / "models" / f"{path.stem}-{fingerprint.split(':', 1)[1][:16]}"


def convert_gguf(path: Path, target: Path) -> Path:
    """De-quantise a GGUF file to a float32 safetensors model folder (with its tokenizer) at ``target``.

    The folder is built under a temporary name and renamed, so an interrupted conversion leaves nothing
    that looks finished.

    Args:
        path: the ``.gguf`` file.
        target: the folder to create.

    Returns:
        ``target``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_gguf(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        quantized = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except (ValueError, OSError, RuntimeError, KeyError) as error:
        raise CheckpointError(
            f"{path} could not be loaded as a causal LM ({type(error).__name__}: {error}): "
            "check that its architecture is one transformers reads from GGUF"
        ) from error
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if (target / "config.json").is_file():  # another process finished the same conversion first
            shutil.rmtree(staging)
            return target
        shutil.rmtree(target, ignore_errors=True)  # a leftover without config.json is not a finished conversion
        staging.replace(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
