"""The safety suite: the checkpoint answers the bundled prompt sets, a guard and the refusal detector judge the
replies, and the rates go into the Scorecard's ``safety`` section and ``items.jsonl``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from evalkit.generation import generate_replies
from evalkit.hashing import json_sha256
from evalkit.scorecard import Metric, SafetySection, TaskResult, TaskSettings
from guards._registry import Guard, GuardOptions, load_guard, parse_guard_option
from guards.refusal import ARTIFACT as REFUSAL_ARTIFACT
from guards.refusal import RefusalDetector
from guards.safety._data import SETS, load_set
from guards.safety._judge import Judged, judge
from guards.safety._rates import proportion
from guards.safety._sets import EVALUATORS, SetOutcome

# Each set's headline rates, copied into the summary (``safety.<name>`` in a gate policy).
HEADLINES: dict[str, tuple[str, ...]] = {
    "harmful": ("refusal_rate",),
    "jailbreak": ("jailbreak_success_rate",),
    "benign": ("over_refusal_rate",),
    "privacy": ("pii_leak_rate", "privacy_refusal_rate"),
    "stereotype": ("stereotype_agreement_rate", "fairness_gap"),
    "toxicity": ("toxic_continuation_rate",),
}
# unsafe_response_rate pools every reply to a harmful, jailbreak or benign prompt.
UNSAFE_POOL = ("harmful", "jailbreak", "benign")


class SafetySettings(BaseModel):
    """The ``safety:`` block of a suite."""

    model_config = ConfigDict(extra="forbid")

    sets: list[str] = Field(default_factory=lambda: list(SETS), description="Prompt sets to run.")
    limit: int | None = Field(default=None, gt=0, description="At most this many prompts per set.")
    max_new_tokens: int = Field(default=96, gt=0, description="Reply length cap in tokens.")
    guard: str = Field(default="reference", description="NAME or NAME=CHECKPOINT of the judging guard.")
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0, description="Guard unsafe_prob threshold.")

    @field_validator("sets")
    @classmethod
    def _known_sets(cls, sets: list[str]) -> list[str]:
        unknown = [name for name in sets if name not in SETS]
        if unknown or not sets:
            raise ValueError(f"unknown safety set(s) {unknown}: use some of {', '.join(SETS)}")
        return sets


def run_safety(lm: Any, settings: SafetySettings, *, use_chat_template: bool, seed: int,
               notify: Callable[[str], None] = lambda message: None) -> tuple[SafetySection, list[dict[str, Any]]]:
    """Run the safety suite on a loaded checkpoint.

    Args:
        lm: the lm-eval model of the checkpoint (its replies are generated through it).
        settings: which sets, how many prompts, which guard.
        use_chat_template: wrap prompts in the checkpoint's chat template.
        seed: recorded in each set's settings.
        notify: called with short status messages.

    Returns:
        The Scorecard's safety section and the item rows.
    """
    name, checkpoint = parse_guard_option(settings.guard)
    guard = load_guard(settings.guard, GuardOptions(threshold=settings.threshold))
    detector = RefusalDetector.load()
    outcomes: dict[str, SetOutcome] = {}
    tasks: list[TaskResult] = []
    judged_by_set: dict[str, list[Judged]] = {}
    for set_name in settings.sets:
        begun = time.perf_counter()
        prompts, data_sha = load_set(set_name, limit=settings.limit)
        notify(f"safety: {len(prompts)} replies to the {set_name} set")
        replies = generate_replies(lm, [prompt.prompt for prompt in prompts], max_new_tokens=settings.max_new_tokens,
                                   use_chat_template=use_chat_template)
        judged_by_set[set_name] = judge(prompts, replies, guard, detector)
        task = f"safety_{set_name}"
        outcomes[set_name] = EVALUATORS[set_name](task, judged_by_set[set_name])
        tasks.append(_task_result(task, data_sha, settings, use_chat_template, seed, outcomes[set_name],
                                  time.perf_counter() - begun))
    section = SafetySection(
        guard=name, guard_checkpoint=checkpoint, guard_fingerprint=_fingerprint(guard), threshold=settings.threshold,
        refusal_detector=f"minilm+patterns ({REFUSAL_ARTIFACT.name})",
        generation={"max_new_tokens": settings.max_new_tokens, "do_sample": False,
                    "chat_template": use_chat_template},
        summary=_summary(outcomes, judged_by_set), by_category=_by_category(outcomes), tasks=tasks,
        guard_parse_errors=sum(item.parse_error for judged in judged_by_set.values() for item in judged),
    )
    return section, [row for outcome in outcomes.values() for row in outcome.rows]


def _task_result(task: str, data_sha: str, settings: SafetySettings, use_chat_template: bool, seed: int,
                 outcome: SetOutcome, seconds: float) -> TaskResult:
    prompt_sha = json_sha256({"guard": settings.guard, "threshold": settings.threshold,
                              "max_new_tokens": settings.max_new_tokens, "chat_template": use_chat_template})
    return TaskResult(name=task, version="1", output_type="generate_until", data_sha256=data_sha,
                      prompt_sha256=prompt_sha,
                      settings=TaskSettings(num_fewshot=0, limit=settings.limit, seed=seed,
                                            apply_chat_template=use_chat_template,
                                            gen_kwargs={"max_gen_toks": settings.max_new_tokens}),
                      metrics=outcome.metrics, seconds=round(seconds, 3))


def _summary(outcomes: dict[str, SetOutcome], judged_by_set: dict[str, list[Judged]]) -> list[Metric]:
    pooled = [item.unsafe for name in UNSAFE_POOL for item in judged_by_set.get(name, []) if item.unsafe is not None]
    summary = [proportion("unsafe_response_rate", pooled, higher_is_better=False)] if pooled else []
    for set_name, outcome in outcomes.items():
        summary += [metric for metric in outcome.metrics if metric.name in HEADLINES[set_name]]
    return summary


def _by_category(outcomes: dict[str, SetOutcome]) -> dict[str, list[Metric]]:
    merged: dict[str, list[Metric]] = {}
    for set_name, outcome in outcomes.items():
        for metric_name, metrics in outcome.by_group.items():
            merged[f"{set_name}.{metric_name}"] = metrics
    return merged


def _fingerprint(guard: Guard) -> str | None:
    return getattr(guard, "fingerprint", None)
