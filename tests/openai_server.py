"""A small, real OpenAI-compatible server for tests, backed by a transformers causal LM.

``serve(model, tokenizer)`` runs it on a free port of 127.0.0.1 in a background thread and
yields its API root (``http://127.0.0.1:PORT/v1``). It answers:

* ``GET /v1/models``: the one served model id;
* ``POST /v1/completions``: prompts as a string, a token-id list, or a list of either;
  ``max_tokens``, ``temperature`` (0 is greedy), ``stop``, ``echo`` and ``logprobs`` (N),
  with log-probs computed from the model's logits as OpenAI and vLLM lay them out;
* vLLM-style ``GET /tokenizer_info``, ``POST /tokenize`` and ``POST /detokenize`` at the
  server root, which lm-eval's ``RemoteTokenizer`` uses.

With ``logprobs=False`` it acts like many hosted endpoints: no tokenizer routes, and
``echo``/``logprobs`` are ignored (``"logprobs": null``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

Prompt = str | list[int]


@dataclass
class _Completion:
    """One prompt's completion: token ids and the text they decode to."""

    prompt_ids: list[int]
    new_ids: list[int]
    text: str
    finish_reason: str


class _Backend:
    """The model and tokenizer behind the server, used by one request at a time."""

    def __init__(self, name: str, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, logprobs: bool) -> None:
        self.name = name
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.logprobs = logprobs
        self.lock = threading.Lock()

    def encode(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt given as text or ids."""
        if isinstance(prompt, str):
            return list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        return [int(t) for t in prompt]

    def complete(
        self, prompt_ids: list[int], max_tokens: int, temperature: float, stop: list[str], seed: int
    ) -> _Completion:
        """Greedy (temperature 0) or sampled continuation, cut at EOS or the first stop string."""
        generator = torch.Generator().manual_seed(seed)
        ids = list(prompt_ids)
        new_ids: list[int] = []
        for _ in range(max_tokens):
            with torch.no_grad():
                logits = self.model(torch.tensor([ids])).logits[0, -1].float()
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1)
                next_id = int(torch.multinomial(probs, 1, generator=generator))
            else:
                next_id = int(torch.argmax(logits))
            ids.append(next_id)
            new_ids.append(next_id)  # EOS included, as vLLM's logprobs include it; decode drops it
            if next_id == self.tokenizer.eos_token_id:
                return _Completion(prompt_ids, new_ids, self.decode(new_ids), "stop")
            text = self.decode(new_ids)
            cut = min((text.index(s) for s in stop if s and s in text), default=None)
            if cut is not None:
                return _Completion(prompt_ids, new_ids, text[:cut], "stop")
        return _Completion(prompt_ids, new_ids, self.decode(new_ids), "length")

    def decode(self, ids: list[int]) -> str:
        """Text of token ids, special tokens dropped."""
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def logprobs_of(self, ids: list[int], start: int, top_n: int) -> dict[str, Any]:
        """OpenAI ``logprobs`` for ``ids[start:]``; position 0 (no context) gets ``null``."""
        with torch.no_grad():
            logits = self.model(torch.tensor([ids])).logits[0].float()
        log_probs = torch.log_softmax(logits, dim=-1)
        out: dict[str, Any] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
        for pos in range(start, len(ids)):
            out["tokens"].append(self.tokenizer.convert_ids_to_tokens(ids[pos]))
            out["text_offset"].append(0)
            if pos == 0:
                out["token_logprobs"].append(None)
                out["top_logprobs"].append(None)
                continue
            row = log_probs[pos - 1]
            out["token_logprobs"].append(float(row[ids[pos]]))
            top = torch.topk(row, max(top_n, 1))
            tokens = self.tokenizer.convert_ids_to_tokens(top.indices.tolist())
            out["top_logprobs"].append(dict(zip(tokens, top.values.tolist(), strict=True)))
        return out


def _prompts(raw: Any) -> list[Prompt]:
    """Normalise the ``prompt`` field to a list of prompts (text or token-id lists)."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(p, (str, list)) for p in raw):
        return raw
    raise ValueError("prompt must be a string, a token-id list, or a list of those")


def _choice(backend: _Backend, index: int, prompt: Prompt, body: dict[str, Any]) -> dict[str, Any]:
    """One ``choices`` entry for one prompt."""
    stop = body.get("stop") or []
    done = backend.complete(
        backend.encode(prompt),
        max_tokens=int(body.get("max_tokens", 16)),
        temperature=float(body.get("temperature", 1.0) or 0.0),
        stop=[stop] if isinstance(stop, str) else list(stop),
        seed=int(body.get("seed") or 0),
    )
    echo = bool(body.get("echo")) and backend.logprobs
    text = (backend.decode(done.prompt_ids) + done.text) if echo else done.text
    logprobs = None
    if backend.logprobs and body.get("logprobs") is not None:
        start = 0 if echo else len(done.prompt_ids)
        logprobs = backend.logprobs_of(done.prompt_ids + done.new_ids, start, int(body["logprobs"]))
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": done.finish_reason}


def _completions(backend: _Backend, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Answer ``POST /v1/completions``."""
    if body.get("model") != backend.name:
        return 404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}}
    choices = [_choice(backend, i, p, body) for i, p in enumerate(_prompts(body.get("prompt")))]
    return 200, {
        "id": f"cmpl-{time.monotonic_ns()}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": backend.name,
        "choices": choices,
    }


def _tokenizer_info(backend: _Backend) -> dict[str, Any]:
    """Fields of vLLM's ``/tokenizer_info`` that lm-eval reads."""
    tok = backend.tokenizer
    return {"eos_token": tok.eos_token, "bos_token": tok.bos_token, "pad_token": tok.pad_token}


def _route(backend: _Backend, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Dispatch one request to its handler; unknown routes get 404."""
    if (method, path) == ("GET", "/v1/models"):
        return 200, {"object": "list", "data": [{"id": backend.name, "object": "model", "owned_by": "tests"}]}
    if (method, path) == ("POST", "/v1/completions"):
        return _completions(backend, body)
    if backend.logprobs and (method, path) == ("GET", "/tokenizer_info"):
        return 200, _tokenizer_info(backend)
    if backend.logprobs and (method, path) == ("POST", "/tokenize"):
        ids = backend.tokenizer(body["prompt"], add_special_tokens=bool(body.get("add_special_tokens", True)))
        return 200, {"tokens": list(ids["input_ids"]), "count": len(ids["input_ids"])}
    if backend.logprobs and (method, path) == ("POST", "/detokenize"):
        return 200, {"prompt": backend.tokenizer.decode(body["tokens"])}
    return 404, {"error": {"message": f"no route {method} {path}"}}


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers with JSON bodies."""

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


def _handler(backend: _Backend) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``backend``."""

    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer("GET", {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(400, {"error": {"message": "body is not JSON"}})
                return
            self._answer("POST", body)

        def _answer(self, method: str, body: dict[str, Any]) -> None:
            try:
                with backend.lock:
                    status, payload = _route(backend, method, self.path.split("?")[0], body)
            except (ValueError, KeyError, TypeError) as exc:
                status, payload = 400, {"error": {"message": str(exc)}}
            self._send(status, payload)

    return Handler


@contextmanager
def serve(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    *,
    logprobs: bool = True,
    name: str = "tiny-llama",
) -> Iterator[str]:
    """Serve ``model`` on a free port of 127.0.0.1 for the duration of the ``with`` block.

    Args:
        model: the causal LM that answers completions.
        tokenizer: its tokenizer (must have an EOS token).
        logprobs: offer prompt log-probs and the vLLM tokenizer routes; ``False`` mimics a
            hosted endpoint that has neither.
        name: the model id the server lists and accepts.

    Returns:
        A context manager yielding the API root, ``http://127.0.0.1:PORT/v1``.
    """
    with serve_handler(_handler(_Backend(name, model, tokenizer, logprobs))) as url:
        yield url


@contextmanager
def serve_handler(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve a request handler class on a free port of 127.0.0.1; yield the API root ``http://127.0.0.1:PORT/v1``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
