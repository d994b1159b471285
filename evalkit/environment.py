"""Capture the software and hardware environment a scorecard was produced in."""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from evalkit.scorecard import Environment

TRACKED_PACKAGES = ("evalkit-gate", "lm_eval", "torch", "transformers", "peft", "datasets", "tokenizers", "gguf")


def capture_environment(device: str) -> Environment:
    """Describe this machine and the package versions that shape scores.

    Args:
        device: the torch device the model ran on (or ``remote``).

    Returns:
        The :class:`Environment`.
    """
    import torch

    packages = {}
    for name in TRACKED_PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            continue
    return Environment(python=sys.version.split()[0], platform=platform.platform(), device=device,
                       torch_threads=torch.get_num_threads(), packages=packages)
