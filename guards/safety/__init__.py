"""The safety suite: replies to bundled harmful, jailbreak, benign, privacy, stereotype and toxicity prompts,
judged by a guard and an independent refusal detector, reported as rates with standard errors."""

from guards.safety._data import SETS, SafetyPrompt, load_set
from guards.safety._sets import agreement
from guards.safety._suite import SafetySettings, run_safety

__all__ = ["SETS", "SafetyPrompt", "SafetySettings", "agreement", "load_set", "run_safety"]
