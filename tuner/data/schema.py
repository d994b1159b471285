"""Training-data layouts, validated row by row into :class:`Example` objects.

SFT data comes in one of three layouts, chosen from the first readable row and required of every row:

- ``human_assistant``: a ``text`` field in the guide's template, ``### Human: <query> ### Assistant: <answer>``
  (several exchanges allowed); trained as prompt (up to the last ``### Assistant:``) and completion (the rest);
- ``prompt_completion``: ``prompt`` and ``completion`` strings;
- ``messages``: a chat, a list of ``{"role", "content"}`` with an optional leading ``system`` turn, then ``user``
  and ``assistant`` alternating, ending with ``assistant``.

DPO data has ``prompt``, ``chosen`` and ``rejected`` strings, with ``chosen`` different from ``rejected``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from tuner.data.io import DataFile
from tuner.data.report import Finding, counted

Method = Literal["sft", "dpo"]
Layout = Literal["human_assistant", "prompt_completion", "messages", "preference"]
LABEL_FIELDS = ("label", "category")
_MARKER = re.compile(r"###\s*(Human|Assistant):")


@dataclass(frozen=True)
class Example:
    """One valid training example.

    Attributes:
        position: its line (JSONL) or row (tables), 1-based.
        record: the row as read.
        turns: the conversation as ``(role, content)`` pairs, ``user``/``assistant`` alternating (DPO: the prompt
            and the chosen answer).
        prompt: what the model is conditioned on (human_assistant: the text up to the last ``### Assistant:``).
        response: what the model learns to produce (DPO: the chosen answer).
        rejected: the rejected answer (DPO only).
        label: the value of the label or category field, if any.
        system: the system turn of a chat (``messages`` layout), if any.
    """

    position: int
    record: dict[str, Any]
    turns: tuple[tuple[str, str], ...]
    prompt: str
    response: str
    rejected: str | None = None
    label: str | None = None
    system: str | None = None

    def chat(self) -> list[dict[str, str]]:
        """The conversation as chat messages (``{"role", "content"}``), the system turn first when there is one."""
        system = [{"role": "system", "content": self.system}] if self.system else []
        return system + [{"role": role, "content": content} for role, content in self.turns]

    @property
    def text(self) -> str:
        """All of the example's text (prompt, answer, rejected answer), for duplicate and overlap checks."""
        return "\n".join(part for part in (self.prompt, self.response, self.rejected) if part)


@dataclass(frozen=True)
class Parsed:
    """The valid examples of a file, the schema findings, the layout and the label field."""

    examples: list[Example]
    findings: list[Finding]
    layout: Layout | None
    label_field: str | None


def detect_layout(record: dict[str, Any], method: Method) -> Layout | None:
    """The layout a record's fields announce, or ``None`` when they match none for ``method``."""
    if method == "dpo":
        return "preference" if {"prompt", "chosen", "rejected"} & set(record) else None
    if "messages" in record:
        return "messages"
    if "prompt" in record or "completion" in record:
        return "prompt_completion"
    return "human_assistant" if "text" in record else None


def _text_field(record: dict[str, Any], name: str) -> str:
    """A non-empty string field, or raise ValueError (missing, empty) or TypeError (not a string)."""
    if name not in record or record[name] is None:
        raise ValueError(f"missing field {name!r}")
    value = record[name]
    if not isinstance(value, str):
        raise TypeError(f"field {name!r} is a {type(value).__name__}, not a string")
    if not value.strip():
        raise ValueError(f"empty field {name!r}")
    return value


def _human_assistant(record: dict[str, Any]) -> tuple[tuple[tuple[str, str], ...], str, str]:
    text = _text_field(record, "text")
    pieces = _MARKER.split(text)
    if pieces[0].strip() or len(pieces) < 5:
        raise ValueError("text is not in the '### Human: ... ### Assistant: ...' template")
    roles = pieces[1::2]
    contents = [content.strip() for content in pieces[2::2]]
    if roles != ["Human", "Assistant"] * (len(roles) // 2) or len(roles) % 2:
        raise ValueError("text must alternate '### Human:' and '### Assistant:', starting with Human")
    if not all(contents):
        raise ValueError("text has an empty '### Human:' or '### Assistant:' part")
    turns = tuple(("user" if role == "Human" else "assistant", content) for role, content in zip(roles, contents,
                                                                                                   strict=True))
    split_at = [match.end() for match in _MARKER.finditer(text)][-1]
    return turns, text[:split_at], text[split_at:]


def _messages(record: dict[str, Any]) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    messages = record.get("messages")
    if isinstance(messages, str):  # CSV cells hold the list as JSON text
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError:
            raise ValueError("field 'messages' is text but not a JSON list") from None
    if messages is None:
        raise ValueError("missing field 'messages'")
    if not isinstance(messages, list) or not messages:
        raise ValueError("field 'messages' is not a non-empty list of {role, content}")
    turns = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise TypeError(f"message {index + 1} has no string content")
        if not message["content"].strip():
            raise ValueError(f"message {index + 1} has empty content")
        turns.append((str(message.get("role")), message["content"]))
    system = turns.pop(0)[1] if turns[0][0] == "system" else None
    expected = ["user", "assistant"] * (len(turns) // 2 + 1)
    if not turns or [role for role, _ in turns] != expected[:len(turns)] or turns[-1][0] != "assistant":
        raise ValueError("messages must be an optional system turn, then user/assistant alternating, ending with "
                         "assistant")
    return system, tuple(turns)


def _example(position: int, record: dict[str, Any], layout: Layout, label: str | None) -> Example:
    """Validate one record in ``layout``; raise ValueError or TypeError naming the first problem."""
    if layout == "preference":
        prompt, chosen, rejected = (_text_field(record, name) for name in ("prompt", "chosen", "rejected"))
        if chosen.strip() == rejected.strip():
            raise ValueError("chosen and rejected are identical")
        return Example(position, record, (("user", prompt), ("assistant", chosen)), prompt, chosen, rejected, label)
    if layout == "prompt_completion":
        prompt, completion = _text_field(record, "prompt"), _text_field(record, "completion")
        return Example(position, record, (("user", prompt), ("assistant", completion)), prompt, completion,
                       label=label)
    if layout == "messages":
        system, turns = _messages(record)
        prompt = "\n".join(content for _, content in turns[:-1])
        return Example(position, record, turns, prompt, turns[-1][1], label=label, system=system)
    turns, prompt, response = _human_assistant(record)
    return Example(position, record, turns, prompt, response, label=label)


def _label_field(records: list[dict[str, Any]], requested: str | None) -> str | None:
    if requested is not None:
        return requested
    return next((name for name in LABEL_FIELDS if any(name in record for record in records)), None)


def _label(record: dict[str, Any], field: str | None) -> str | None:
    value = record.get(field) if field else None
    return None if value is None or not str(value).strip() else str(value)


def parse_examples(data: DataFile, method: Method, *, label_field: str | None = None) -> Parsed:
    """Validate every row and group the problems into findings (one per kind of problem, with its positions).

    Args:
        data: the read file.
        method: ``sft`` or ``dpo``.
        label_field: the field to stratify and balance by; ``None`` picks ``label`` or ``category`` when present.

    Returns:
        The :class:`Parsed` examples and findings.
    """
    records = [row.record for row in data.rows if row.record is not None]
    first = next((detect_layout(record, method) for record in records if detect_layout(record, method)), None)
    field = _label_field(records, label_field)
    problems: dict[str, list[int]] = defaultdict(list)
    examples = []
    for row in data.rows:
        if row.record is None:
            problems[str(row.problem)].append(row.position)
        elif first is None:
            problems[_no_layout_message(method)].append(row.position)
        else:
            try:
                examples.append(_example(row.position, row.record, first, _label(row.record, field)))
            except (ValueError, TypeError) as error:
                problems[str(error)].append(row.position)
    findings = [Finding(check="schema", severity="error", positions=positions,
                        message=f"{counted(len(positions), data.unit)}: {problem}: fix or drop them")
                for problem, positions in problems.items()]
    if not data.rows:
        findings.append(Finding(check="schema", severity="error", message="the file has no rows: add examples"))
    findings += _label_findings(examples, field, requested=label_field is not None, unit=data.unit)
    return Parsed(examples, findings, first, field)


def _no_layout_message(method: Method) -> str:
    if method == "dpo":
        return "no DPO fields: give prompt, chosen and rejected"
    return "no SFT layout: give text ('### Human: ... ### Assistant: ...'), prompt and completion, or messages"


def _label_findings(examples: list[Example], field: str | None, *, requested: bool, unit: str) -> list[Finding]:
    if field is None:
        return []
    unlabelled = [example.position for example in examples if example.label is None]
    if requested and len(unlabelled) == len(examples) and examples:
        return [Finding(check="schema", severity="error", message=f"label field {field!r} is in no row: check "
                        "--label-field")]
    if unlabelled:
        return [Finding(check="schema", severity="warning", positions=unlabelled,
                        message=f"{counted(len(unlabelled), unit)} without {field!r}: they are left out of stratification "
                        "and balancing")]
    return []
