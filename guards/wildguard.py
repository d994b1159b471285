"""WildGuard (``allenai/wildguard``): the published instruction format, a greedy three-line answer parsed by the
official parser, and the probability of the judged line's answer read from the logits it was decoded from.

The model answers::

    Harmful request: yes
    Response refusal: no
    Harmful response: no

parsed as ``wildguard``'s ``parse_model_generation_to_output`` does; an answer it cannot parse sets
``Verdict.parse_error`` (counted, never guessed). The judged line is "Harmful request" for a lone user turn and
"Harmful response" for a reply; the label is that line's yes/no when it parses.

``unsafe_prob`` is P(`` yes``) / (P(`` yes``) + P(`` no``)) at the judged line's answer token, from the logits
the greedy decoding chose that token from. When the generation never reaches that answer (it never writes the
line's colon), the line is teacher-forced instead: the published line keys after the prompt, the earlier lines
answered with the model's more likely word (GUARDS.md 3.4); ``raw["p_yes_from"]`` says which was used.

Prompt: ``<s>`` + ``WILDGUARD_INPUT_FORMAT`` with ``response`` empty for a lone user turn. Exactly one BOS reaches
the model: the BOS id, then the format text encoded without special tokens (what the package's
``add_special_tokens=True`` produces).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from guards._conversation import Conversation, last_exchange, mode_of
from guards._registry import GuardEntry, GuardOptions, register
from guards._templates import WILDGUARD_INPUT_FORMAT
from guards._verdict import Verdict, label_for

if TYPE_CHECKING:
    from guards._hf import DecodeState

NAME = "wildguard"
DEFAULT_CHECKPOINT = "allenai/wildguard"
BOS = "<s>"
# The three answer lines take about 20 tokens.
MAX_NEW_TOKENS = 32
LINE_KEYS = ("Harmful request:", "\nResponse refusal:", "\nHarmful response:")
JUDGED_LINE = {"prompt": 1, "response": 3}
_ANSWERS = {"yes": True, "no": False}

Reading = tuple[str, float | None]  # (decoded answer, P(yes) at the judged line's answer token if it was reached)


@dataclass(frozen=True)
class WildGuardOutput:
    """A parsed WildGuard answer: each line as ``True`` (yes), ``False`` (no) or ``None`` (N/A or unparsed)."""

    harmful_request: bool | None
    response_refusal: bool | None
    harmful_response: bool | None
    parse_error: bool


def parse_output(output: str) -> WildGuardOutput:
    """Parse an answer with the official logic: three ``key: value`` lines; the request line must be yes or no,
    the other two yes, no or N/A (any case).

    Args:
        output: the decoded answer, stripped.

    Returns:
        The parsed lines; ``parse_error`` when the answer does not fit.
    """
    match = re.match(".*:(.*)\n.*:(.*)\n.*:(.*)", output)
    if match is None:
        return WildGuardOutput(None, None, None, parse_error=True)
    request, refusal, response = (value.strip().lower() for value in match.groups())
    error = request not in _ANSWERS or refusal not in (*_ANSWERS, "n/a") or response not in (*_ANSWERS, "n/a")
    return WildGuardOutput(_ANSWERS.get(request), _ANSWERS.get(refusal), _ANSWERS.get(response), parse_error=error)


def format_prompt(conv: Conversation) -> str:
    """Return ``WILDGUARD_INPUT_FORMAT`` filled with the judged request and reply (empty for a lone user turn)."""
    request, response = last_exchange(conv)
    return WILDGUARD_INPUT_FORMAT.format(prompt=request, response=response or "")


def render(conv: Conversation, options: GuardOptions) -> str:
    """Return the exact prompt WildGuard reads for ``conv``: ``<s>`` and the filled instruction format."""
    return BOS + format_prompt(conv)


def answer_step(pieces: Sequence[str], line: int) -> int | None:
    """Return the index of the token that answers line ``line`` (1-3): the first token after the line's colon.

    Args:
        pieces: the generated tokens, each decoded on its own.
        line: which answer line.

    Returns:
        The token index, or ``None`` when the generation ends before that answer.
    """
    colons = 0
    for index, piece in enumerate(pieces):
        if colons >= line:
            return index
        colons += piece.count(":")
    return None


class WildGuard:
    """A WildGuard checkpoint that scores conversations; see the module docstring for what the number means.

    Args:
        options: checkpoint, threshold, device, dtype, batch size.
        reuse_prefix: encode the prompt preamble once and reuse its KV cache (``False``: recompute every prompt).

    Attributes:
        tokenizer: the checkpoint's tokenizer.
        runner: the :class:`guards._hf.BatchRunner` that holds the model.
    """

    name = NAME

    def __init__(self, options: GuardOptions, *, reuse_prefix: bool = True) -> None:
        from guards._hf import open_guard, single_token_id

        self.options = options
        checkpoint = options.checkpoint or DEFAULT_CHECKPOINT
        self.tokenizer, self.runner = open_guard(NAME, checkpoint, options, special_tokens=(BOS,),
                                                  reuse_prefix=reuse_prefix)
        self._bos = self.tokenizer.convert_tokens_to_ids(BOS)
        self._yes = single_token_id(self.tokenizer, " yes", guard=NAME, after=LINE_KEYS[0])
        self._no = single_token_id(self.tokenizer, " no", guard=NAME, after=LINE_KEYS[0])
        self._stops = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else []
        self.runner.add_preambles(lambda conv: self.encode(format_prompt(conv)))

    def encode(self, text: str) -> list[int]:
        """Return the model's input for a filled format (and any forced answer text): BOS, then ``text``."""
        return [self._bos, *self.tokenizer.encode(text, add_special_tokens=False)]

    def score(self, conversations: Sequence[Conversation]) -> list[Verdict]:
        """Judge the last turn of each conversation.

        Args:
            conversations: validated conversations.

        Returns:
            One verdict per conversation; ``raw`` holds the answer, its parsed lines and P(yes).
        """
        prompts = [format_prompt(conv) for conv in conversations]
        lines = [JUDGED_LINE[mode_of(conv)] for conv in conversations]
        readings = self.runner.map([self.encode(prompt) for prompt in prompts], self.options.batch_size,
                                    partial(self._judge, lines))
        unanswered = [index for index, (_, p_yes) in enumerate(readings) if p_yes is None]
        forced = self._forced_p_yes([prompts[index] for index in unanswered], [lines[index] for index in unanswered])
        p_forced = dict(zip(unanswered, forced, strict=True))
        return [self._verdict(output, p_forced.get(index, p_yes), lines[index], index in p_forced)
                for index, (output, p_yes) in enumerate(readings)]

    def _judge(self, lines: list[int], indices: list[int], state: DecodeState) -> list[Reading]:
        from guards._hf import first_of_two, greedy_decode

        tokens, step_logits = greedy_decode(state, MAX_NEW_TOKENS, self._stops)
        p_yes = first_of_two(step_logits, self._yes, self._no)  # [steps, batch]
        readings = []
        for row, index in enumerate(indices):
            step = answer_step([self.tokenizer.decode([token]) for token in tokens[row]], lines[index])
            output = self.tokenizer.decode(tokens[row], skip_special_tokens=True).strip()
            readings.append((output, None if step is None else float(p_yes[step, row])))
        return readings

    def _forced_p_yes(self, prompts: list[str], lines: list[int]) -> list[float]:
        """P(yes) after the judged line's key, with the line keys teacher-forced and earlier lines answered by the
        model's more likely word."""
        answers = [""] * len(prompts)
        p_yes = [0.0] * len(prompts)
        for line, key in enumerate(LINE_KEYS, start=1):
            active = [index for index, judged in enumerate(lines) if judged >= line]
            rows = [self.encode(prompts[index] + answers[index] + key) for index in active]
            for index, value in zip(active, self.runner.map(rows, self.options.batch_size, self._p_yes), strict=True):
                p_yes[index] = value
                answers[index] += key + (" yes" if value >= 0.5 else " no")
        return p_yes

    def _p_yes(self, indices: list[int], state: DecodeState) -> list[float]:
        from guards._hf import first_of_two

        return first_of_two(state.logits, self._yes, self._no).tolist()

    def _verdict(self, output: str, p_yes: float, line: int, forced: bool) -> Verdict:
        parsed = parse_output(output)
        judged = parsed.harmful_request if line == 1 else parsed.harmful_response
        label = label_for(p_yes, self.options.threshold) if judged is None else ("unsafe" if judged else "safe")
        raw = {"output": output, "harmful_request": parsed.harmful_request,
               "response_refusal": parsed.response_refusal, "harmful_response": parsed.harmful_response,
               "p_yes": p_yes, "p_yes_from": "teacher-forced" if forced else "generation"}
        return Verdict(unsafe_prob=p_yes, label=label, raw=raw, parse_error=parsed.parse_error)


register(GuardEntry(name=NAME, summary="WildGuard 7B, P(yes) at the judged line's answer, official parser",
                    default_checkpoint=DEFAULT_CHECKPOINT, build=WildGuard, render=render))
