"""Screening of training data for personal information (:mod:`evalkit.pii`) and unsafe content (any guard).

A guard judges each example twice: the request alone (prompt mode) and the answer the model would learn, in the
context of its request (response mode). An unsafe answer is an error: training on it teaches the model to produce
it. An unsafe request alone is a warning, not an error: a harmful request answered with a refusal is exactly the
data that teaches refusals. For DPO only the chosen answer is judged; an unsafe rejected answer is expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from evalkit.pii import find_pii
from tuner.data.io import record_strings
from tuner.data.report import Finding, counted
from tuner.data.schema import Example

if TYPE_CHECKING:
    from guards import Conversation, Guard


def pii_findings(examples: list[Example], unit: str) -> list[Finding]:
    """One error finding listing the examples with PII and the kinds found (emails, phones, cards, IDs, ...).

    Args:
        examples: the valid examples (every string field of the record is scanned).
        unit: ``line`` or ``row``.

    Returns:
        ``[]`` or one finding; ``details`` holds ``{"position", "kinds"}`` per example.
    """
    details = []
    for example in examples:
        kinds = sorted({hit.kind for text in record_strings(example.record) for hit in find_pii(text)})
        if kinds:
            details.append({"position": example.position, "kinds": kinds})
    if not details:
        return []
    counts: dict[str, int] = {}
    for detail in details:
        for kind in detail["kinds"]:
            counts[kind] = counts.get(kind, 0) + 1
    summary = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
    return [Finding(check="pii", severity="error", positions=[detail["position"] for detail in details],
                    details=details,
                    message=f"{counted(len(details), unit)} with personal information ({summary}): redact them "
                            "(--redact OUT.jsonl writes a copy with [EMAIL], [PHONE], ... in their place)")]


def _conversations(examples: list[Example]) -> tuple[list[Conversation], list[Conversation]]:
    from guards import Turn

    requests, answers = [], []
    for example in examples:
        turns = tuple(Turn(role=role, content=content) for role, content in example.turns)  # type: ignore[arg-type]
        last_user = max(index for index, turn in enumerate(turns) if turn.role == "user")
        requests.append(turns[:last_user + 1])
        answers.append(turns)
    return requests, answers


def unsafe_findings(examples: Sequence[Example], guard: Guard, unit: str) -> list[Finding]:
    """Judge each example's request and answer with ``guard``.

    Args:
        examples: the valid examples.
        guard: any guard (:func:`guards.load_guard`).
        unit: ``line`` or ``row``.

    Returns:
        Up to two findings: answers judged unsafe (error) and requests judged unsafe (warning); ``details`` hold
        ``{"position", "unsafe_prob", "categories"}``.
    """
    requests, answers = _conversations(list(examples))
    request_verdicts = guard.score(requests)
    answer_verdicts = guard.score(answers)
    findings = []
    for mode, verdicts, severity, advice in (
            ("answers", answer_verdicts, "error", "remove or rewrite them"),
            ("requests", request_verdicts, "warning", "fine when their answers refuse; check them")):
        details = [{"position": example.position, "unsafe_prob": round(verdict.unsafe_prob, 4),
                    "categories": [category.code for category in verdict.categories]}
                   for example, verdict in zip(examples, verdicts, strict=True) if verdict.label == "unsafe"]
        if details:
            findings.append(Finding(check="unsafe", severity=severity, positions=[item["position"] for item in details],
                                    details=details,
                                    message=f"{counted(len(details), unit)} with {mode} that guard {guard.name} judges "
                                            f"unsafe: {advice}"))
    return findings
