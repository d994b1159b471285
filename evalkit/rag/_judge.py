"""The judge behind ragas' LLM metrics and the chunk-attribution check, as a ragas LLM: a local evalkit checkpoint
(greedy decoding through its lm-eval model) or an OpenAI-compatible endpoint (through ragas' own OpenAI client).

Small judges often answer with text that is not the JSON a metric asks for. Such a reply raises
:class:`JudgeOutputError`, which the evaluator counts as a judge failure for that item; it is never turned into a
score. Every call is counted, so the section can report what a metric cost.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError
from ragas.llms.base import InstructorBaseRagasLLM

from evalkit.checkpoints import Checkpoint, LoadedModel, load, resolve
from evalkit.generation import generate_replies
from evalkit.quiet import quiet_libraries
from evalkit.rag._errors import JudgeOutputError, RagError
from evalkit.rag._judge_cache import cached_replies, reply_key, store_replies

if TYPE_CHECKING:
    from lm_eval.api.model import LM

DEFAULT_JUDGE = "smollm2"
Structured = TypeVar("Structured", bound=BaseModel)


def parse_reply(text: str, response_model: type[Structured]) -> Structured:
    """Read the first JSON object in a reply that validates as ``response_model``.

    Args:
        text: the judge's reply (prose or code fences around the JSON are allowed).
        response_model: the pydantic model the metric expects.

    Returns:
        The validated model.

    Raises:
        JudgeOutputError: no JSON object in the reply validates.
    """
    decoder = json.JSONDecoder()
    for start in (match.start() for match in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
            return response_model.model_validate(value)
        except (json.JSONDecodeError, ValidationError):
            continue
    preview = " ".join(text.split())[:80]
    raise JudgeOutputError(f"no JSON {response_model.__name__} in the judge's reply: {preview!r}")


def check_substantive(result: Structured) -> Structured:
    """Refuse a parsed reply that holds nothing to score, which some ragas metrics would turn into a number
    (``answer_correctness`` scores no statements as a perfect match, ``answer_relevancy`` an empty question as 0).

    Args:
        result: the parsed reply.

    Returns:
        ``result``, when some list field is non-empty (or it has none) and no string field but ``reason`` is blank.

    Raises:
        JudgeOutputError: every list field is empty, or a scored string field is blank.
    """
    values = result.model_dump()
    lists = [value for value in values.values() if isinstance(value, list)]
    blank = [name for name, value in values.items() if isinstance(value, str) and not value.strip() and
             name != "reason"]
    if (lists and not any(lists)) or blank:
        raise JudgeOutputError(f"the judge's {type(result).__name__} is empty: nothing to score")
    return result


class LocalJudge(InstructorBaseRagasLLM):
    """A local checkpoint as a ragas LLM: greedy generations, parsed by :func:`parse_reply`.

    Calls made through :meth:`agenerate` while several items are scored concurrently are batched: a call waits
    until every runnable item has asked (one pass of the event loop adds no new prompt), then all waiting prompts
    go to the model in one ``generate_until`` (which splits them by the model's batch size). Replies are cached by
    judge fingerprint, decoding and prompt (see :mod:`evalkit.rag._judge_cache`).

    Args:
        lm: the checkpoint's lm-eval model.
        spec: its checkpoint spec.
        fingerprint: its fingerprint.
        use_chat_template: wrap prompts in the checkpoint's chat template.
        max_new_tokens: the reply length cap.
    """

    def __init__(self, lm: LM, *, spec: str, fingerprint: str, use_chat_template: bool, max_new_tokens: int) -> None:
        self.lm, self.spec, self.fingerprint = lm, spec, fingerprint
        self.use_chat_template, self.max_new_tokens = use_chat_template, max_new_tokens
        self.calls = 0
        self.cache_hits = 0
        self.batches: list[int] = []
        self._waiting: list[tuple[str, asyncio.Future[str]]] = []
        self._flush: asyncio.Task[None] | None = None

    def generate(self, prompt: str, response_model: type[Structured]) -> Structured:
        """Ask the judge once and parse its reply.

        Args:
            prompt: the metric's prompt.
            response_model: the structure the metric expects.

        Returns:
            The parsed reply.

        Raises:
            JudgeOutputError: the reply does not parse.
        """
        self.calls += 1
        return check_substantive(parse_reply(self.replies([prompt])[0], response_model))

    async def agenerate(self, prompt: str, response_model: type[Structured]) -> Structured:
        """:meth:`generate` for ragas' async metrics, batched with the other items' calls that wait with it."""
        self.calls += 1
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[str] = loop.create_future()
        self._waiting.append((prompt, reply))
        if self._flush is None:
            self._flush = loop.create_task(self._answer_waiting())
        return check_substantive(parse_reply(await reply, response_model))

    async def _answer_waiting(self) -> None:
        asked = -1
        while asked != len(self._waiting):  # let every runnable item reach its judge call
            asked = len(self._waiting)
            await asyncio.sleep(0)
        waiting, self._waiting, self._flush = self._waiting, [], None
        try:
            replies = self.replies([prompt for prompt, _ in waiting])
        except Exception as error:  # noqa: BLE001 (not swallowed: each waiting item raises it)
            for _, reply in waiting:
                reply.set_exception(error)
            return
        for (_, reply), text in zip(waiting, replies, strict=True):
            reply.set_result(text)

    def replies(self, prompts: list[str]) -> list[str]:
        """The judge's replies to prompts: cached ones read, the others generated in one batched call and stored.

        Args:
            prompts: the prompts (repeats are generated once).

        Returns:
            The replies, in order.
        """
        settings = f"greedy:{self.max_new_tokens}:{self.use_chat_template}"
        keys = [reply_key(self.fingerprint, settings, prompt) for prompt in prompts]
        known = cached_replies(keys)
        self.cache_hits += sum(key in known for key in keys)
        asked = {key: prompt for key, prompt in zip(keys, prompts, strict=True) if key not in known}
        if asked:
            self.batches.append(len(asked))
            fresh = generate_replies(self.lm, list(asked.values()), max_new_tokens=self.max_new_tokens,
                                     use_chat_template=self.use_chat_template)
            generated = dict(zip(asked, fresh, strict=True))
            store_replies(generated)
            known |= generated
        return [known[key] for key in keys]


class RemoteJudge(InstructorBaseRagasLLM):
    """An OpenAI-compatible chat endpoint as a ragas LLM, through ``ragas.llms.llm_factory`` (Instructor, JSON mode)
    with one attempt per call, so failures are counted rather than retried away.

    Args:
        model: the served model id.
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1``.
        spec: the checkpoint spec.
        fingerprint: its fingerprint.
        max_new_tokens: the reply length cap.
    """

    def __init__(self, model: str, base_url: str, *, spec: str, fingerprint: str, max_new_tokens: int) -> None:
        from openai import AsyncOpenAI
        from ragas.llms import llm_factory

        client = AsyncOpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY") or "none", timeout=300.0,
                             max_retries=1)
        self.inner = llm_factory(model, provider="openai", client=client, temperature=0.0,
                                 max_tokens=max_new_tokens, max_retries=1)
        self.spec, self.fingerprint, self.base_url = spec, fingerprint, base_url
        self.calls = 0

    def generate(self, prompt: str, response_model: type[Structured]) -> Structured:
        """Synchronous calls are not used: the evaluator runs metrics with :meth:`agenerate`."""
        raise NotImplementedError("RemoteJudge is asynchronous: use agenerate")

    async def agenerate(self, prompt: str, response_model: type[Structured]) -> Structured:
        """Ask the endpoint once.

        Args:
            prompt: the metric's prompt.
            response_model: the structure the metric expects.

        Returns:
            The parsed reply.

        Raises:
            JudgeOutputError: the reply does not parse.
            RagError: the endpoint refused the request or could not be reached.
        """
        import openai
        from instructor.exceptions import IncompleteOutputException
        from instructor.retry import InstructorRetryException

        self.calls += 1
        try:
            result = await self.inner.agenerate(prompt, response_model)
        except (InstructorRetryException, IncompleteOutputException, ValidationError, json.JSONDecodeError) as error:
            raise JudgeOutputError(f"the judge's reply is not a valid {response_model.__name__} "
                                   f"({type(error).__name__})") from error
        except openai.APIError as error:
            raise RagError(f"judge endpoint {self.base_url} failed ({type(error).__name__}: "
                           f"{str(error).splitlines()[0][:120]}): check the server and the model name") from None
        return check_substantive(result)


Judge = LocalJudge | RemoteJudge


def load_judge(spec: str, *, max_new_tokens: int, batch_size: int = 1,
               loaded: tuple[Checkpoint, LoadedModel] | None = None) -> Judge:
    """Resolve and load a judge.

    Args:
        spec: any checkpoint spec; ``openai:MODEL@URL`` is asked through its chat endpoint.
        max_new_tokens: the reply length cap.
        batch_size: prompts per forward of a local judge loaded here (a reused one keeps its own).
        loaded: a checkpoint already loaded in this process (reused when ``spec`` names it).

    Returns:
        The judge.
    """
    if loaded is not None and loaded[0].spec == spec and loaded[0].kind != "openai":
        checkpoint, model = loaded
    else:
        checkpoint = resolve(spec)
        if checkpoint.kind == "openai":
            from evalkit.checkpoints._openai import parse_openai_spec

            name, base_url = parse_openai_spec(spec)
            return RemoteJudge(name, base_url, spec=spec, fingerprint=checkpoint.fingerprint,
                               max_new_tokens=max_new_tokens)
        with quiet_libraries():
            model = load(checkpoint, batch_size=batch_size)
    template = bool(getattr(model.tokenizer, "chat_template", None))
    return LocalJudge(model.lm, spec=spec, fingerprint=checkpoint.fingerprint, use_chat_template=template,
                      max_new_tokens=max_new_tokens)

