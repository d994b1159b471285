"""What a guard says about one conversation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Category(BaseModel):
    """A hazard category of a guard's taxonomy, such as ``S1`` / ``Violent Crimes``."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str


class Verdict(BaseModel):
    """A guard's verdict on the last turn of one conversation.

    Attributes:
        unsafe_prob: the probability in [0, 1] that the judged turn is unsafe, read from the model's logits (or the
            reference classifier's calibrated probability), never from sampled text.
        label: ``unsafe`` when ``unsafe_prob`` reaches the guard's threshold, else ``safe``.
        categories: the violated categories (empty when safe, or when the guard names none).
        raw: what the number was read from: the generated text, the decision-token probabilities, per-policy
            scores; enough to audit the verdict.
        parse_error: the guard's text output could not be parsed (counted, never guessed).
    """

    model_config = ConfigDict(frozen=True)

    unsafe_prob: float = Field(ge=0.0, le=1.0)
    label: Literal["safe", "unsafe"]
    categories: tuple[Category, ...] = ()
    raw: dict[str, Any] = Field(default_factory=dict)
    parse_error: bool = False


def label_for(unsafe_prob: float, threshold: float) -> Literal["safe", "unsafe"]:
    """Return ``unsafe`` when ``unsafe_prob`` is at or above ``threshold``.

    Args:
        unsafe_prob: a probability in [0, 1].
        threshold: the decision threshold.

    Returns:
        The label.
    """
    return "unsafe" if unsafe_prob >= threshold else "safe"
