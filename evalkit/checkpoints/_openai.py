"""Checkpoints served by an OpenAI-compatible endpoint, spelled ``openai:MODEL@URL``.

lm-eval does the scoring: :func:`build_endpoint_lm` returns its ``local-completions``
model (``LocalCompletionsAPI``) pointed at the endpoint. Before that, :func:`probe_endpoint`
asks the server what it can do:

* ``GET {URL}/models`` must answer and list ``MODEL``;
* vLLM-style ``/tokenizer_info`` + ``/tokenize`` (beside ``/v1``, at the server root) let
  lm-eval tokenize remotely, which loglikelihood requests need to split context from
  continuation;
* ``POST {URL}/completions`` with ``echo``, ``logprobs=1`` and ``max_tokens=1`` must return
  one log-prob per prompt token, which is how lm-eval scores continuations.

Generation tasks run on any endpoint; loglikelihood tasks (``multiple_choice``, perplexity)
only where the server has both features, else they fail with a one-line ``EndpointError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests
from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.models.openai_completions import LocalCompletionsAPI
from lm_eval.utils import check_remote_tokenizer_support

from evalkit.errors import CheckpointError, EndpointError

SPEC_FORM = "openai:MODEL@URL (for example openai:my-model@http://127.0.0.1:8000/v1)"
_SPEC_RE = re.compile(r"^openai:(?P<model>[^\s]+?)@(?P<url>https?://\S+)$")
_LOGPROB_PROBE_PROMPT = "Hello world"


@dataclass(frozen=True)
class EndpointInfo:
    """What an OpenAI-compatible endpoint serves and which lm-eval features it supports.

    Attributes:
        model: the model id requests name.
        base_url: the API root without a trailing slash, e.g. ``http://127.0.0.1:8000/v1``.
        supports_logprobs: ``/completions`` echoes prompt token log-probs.
        remote_tokenizer: the server offers vLLM-style ``/tokenizer_info`` and ``/tokenize``.
        model_ids: the model ids ``/models`` lists.
    """

    model: str
    base_url: str
    supports_logprobs: bool
    remote_tokenizer: bool
    model_ids: list[str] = field(default_factory=list)

    @property
    def completions_url(self) -> str:
        """The full ``/completions`` URL, the form lm-eval's ``base_url`` argument takes."""
        return f"{self.base_url}/completions"

    @property
    def scores_loglikelihood(self) -> bool:
        """Whether lm-eval can run loglikelihood requests against this endpoint."""
        return self.supports_logprobs and self.remote_tokenizer


def parse_openai_spec(spec: str) -> tuple[str, str]:
    """Split an ``openai:MODEL@URL`` checkpoint spec.

    Args:
        spec: the checkpoint spec, e.g. ``openai:my-model@http://127.0.0.1:8000/v1``.

    Returns:
        ``(model, base_url)``, the URL without a trailing slash.

    Raises:
        CheckpointError: the spec is not of the form ``openai:MODEL@URL``.
    """
    match = _SPEC_RE.match(spec.strip())
    url = match.group("url").rstrip("/") if match else ""
    if match is None or not urlparse(url).hostname:
        raise CheckpointError(f"bad endpoint checkpoint {spec!r}: expected {SPEC_FORM}")
    return match.group("model"), url


def probe_endpoint(model: str, base_url: str, *, timeout_s: float = 5.0) -> EndpointInfo:
    """Ask an endpoint which models it serves and whether it can score loglikelihoods.

    Args:
        model: the model id to check for among the served ones.
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1``.
        timeout_s: seconds to wait for each probe request.

    Returns:
        The endpoint's :class:`EndpointInfo`.

    Raises:
        EndpointError: the endpoint does not answer, or does not serve ``model``.
    """
    base_url = base_url.rstrip("/")
    model_ids = _served_model_ids(base_url, timeout_s)
    if model not in model_ids:
        served = ", ".join(model_ids) or "none"
        raise EndpointError(
            f"endpoint {base_url} does not serve model {model!r} (it serves: {served}): fix MODEL in openai:MODEL@URL"
        )
    return EndpointInfo(
        model=model,
        base_url=base_url,
        supports_logprobs=_returns_prompt_logprobs(model, base_url, timeout_s),
        remote_tokenizer=check_remote_tokenizer_support(f"{base_url}/completions", timeout=timeout_s, max_retries=1),
        model_ids=model_ids,
    )


def build_endpoint_lm(info: EndpointInfo, *, batch_size: int = 1, max_gen_toks: int = 256, seed: int = 1234) -> LM:
    """Build lm-eval's ``local-completions`` model for a probed endpoint.

    Args:
        info: the endpoint, as :func:`probe_endpoint` describes it.
        batch_size: prompts per ``/completions`` request.
        max_gen_toks: default generation length when a task sets none.
        seed: sampling seed sent with every request.

    Returns:
        A ``LocalCompletionsAPI``; where the endpoint cannot score loglikelihoods, one whose
        ``loglikelihood`` and ``loglikelihood_rolling`` raise :class:`EndpointError`.

    Raises:
        CheckpointError: lm-eval's API extras (``pip install 'lm-eval[api]'``) are missing.
    """
    kwargs: dict[str, Any] = {
        "model": info.model,
        "base_url": info.completions_url,
        "batch_size": batch_size,
        "max_gen_toks": max_gen_toks,
        "seed": seed,
    }
    try:
        if info.scores_loglikelihood:
            return LocalCompletionsAPI(tokenizer_backend="remote", **kwargs)
        lm = GenerationOnlyCompletionsAPI(tokenizer_backend=None, tokenized_requests=False, **kwargs)
    except ModuleNotFoundError:  # lm-eval checks for its API extras when the model is built
        raise CheckpointError(
            "endpoint checkpoints need lm-eval's API extras (aiohttp, requests, tenacity, tqdm): "
            "pip install 'lm-eval[api]'"
        ) from None
    lm.loglikelihood_unavailable = _loglikelihood_unavailable_message(info)
    return lm


class GenerationOnlyCompletionsAPI(LocalCompletionsAPI):
    """``local-completions`` for an endpoint that cannot score loglikelihoods."""

    loglikelihood_unavailable = "this endpoint cannot run loglikelihood tasks"

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """Refuse: the endpoint cannot score continuations.

        Args:
            requests: the loglikelihood requests (unused).
            disable_tqdm: unused.

        Returns:
            Never returns.

        Raises:
            EndpointError: always.
        """
        raise EndpointError(self.loglikelihood_unavailable)

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        """Refuse: the endpoint cannot score text.

        Args:
            requests: the rolling loglikelihood requests (unused).
            disable_tqdm: unused.

        Returns:
            Never returns.

        Raises:
            EndpointError: always.
        """
        raise EndpointError(self.loglikelihood_unavailable)


def _loglikelihood_unavailable_message(info: EndpointInfo) -> str:
    """The one-line reason loglikelihood tasks cannot run on ``info``'s endpoint."""
    if not info.supports_logprobs:
        missing = "returns no prompt logprobs"
    else:
        missing = "has no vLLM-style /tokenize endpoint"
    return (
        f"endpoint {info.base_url} {missing}, so loglikelihood tasks (multiple_choice) cannot run on it: "
        f"use generation tasks, or serve the model with vLLM which returns them"
    )


def _served_model_ids(base_url: str, timeout_s: float) -> list[str]:
    """``GET {base_url}/models`` and return the served model ids; raise EndpointError if it fails."""
    url = f"{base_url}/models"
    try:
        response = requests.get(url, timeout=timeout_s)
    except requests.Timeout:
        raise _no_answer(base_url, f"no reply in {timeout_s:g} s") from None
    except requests.RequestException as exc:
        raise _no_answer(base_url, type(exc).__name__) from None
    if response.status_code != 200:
        raise _no_answer(base_url, f"GET {url} gave HTTP {response.status_code}")
    try:
        return [str(entry["id"]) for entry in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise _no_answer(base_url, f"GET {url} did not return an OpenAI model list") from None


def _no_answer(base_url: str, reason: str) -> EndpointError:
    """The error for an endpoint that does not answer as an OpenAI-compatible server."""
    return EndpointError(f"endpoint {base_url} did not answer ({reason}): start the server or fix the URL")


def _returns_prompt_logprobs(model: str, base_url: str, timeout_s: float) -> bool:
    """Whether an echoed 1-token completion carries a log-prob for each prompt token."""
    payload = {
        "model": model,
        "prompt": _LOGPROB_PROBE_PROMPT,
        "max_tokens": 1,
        "temperature": 0,
        "echo": True,
        "logprobs": 1,
    }
    try:
        response = requests.post(f"{base_url}/completions", json=payload, timeout=timeout_s)
        logprobs = response.json()["choices"][0]["logprobs"]
        token_logprobs = logprobs["token_logprobs"]
    except (requests.RequestException, ValueError, KeyError, IndexError, TypeError):
        return False
    # Echoed prompt tokens (at least one) plus the generated token; the first prompt token's is null.
    return response.ok and isinstance(token_logprobs, list) and len(token_logprobs) >= 2
