"""What the monitor measures: the per-request descriptors stored at ingest, the per-request flags derived from them
at check time, and the per-window metrics that alert rules and reports name."""

from __future__ import annotations

# Numeric per-request descriptors, stored at ingest; the check runs Evidently's drift tests on each of them.
DESCRIPTOR_COLUMNS: dict[str, str] = {
    "prompt_chars": "prompt length in characters (Evidently TextLength)",
    "prompt_words": "prompt length in words (Evidently WordCount)",
    "response_chars": "response length in characters (Evidently TextLength)",
    "response_words": "response length in words (Evidently WordCount)",
    "latency_ms": "request latency in milliseconds, as logged",
    "prompt_tokens": "prompt tokens, as logged",
    "completion_tokens": "completion tokens, as logged",
    "refusal_prob": "probability that the response refuses (guards.refusal.RefusalDetector)",
    "prompt_unsafe_prob": "probability that the prompt is unsafe (embedded reference guard, prompt mode)",
    "response_unsafe_prob": "probability that the response is unsafe (embedded reference guard, response mode)",
    "response_pii_count": "PII hits in the response (evalkit.pii)",
    "injection_similarity": "highest cosine similarity of the prompt to the bundled prompt-injection attacks",
    "jailbreak_similarity": "highest cosine similarity of the prompt to the bundled jailbreak attacks",
    "leakage_overlap": "share of a configured system prompt's word 4-grams that the response repeats (highest over "
                       "system prompts)",
    "leakage_similarity": "highest cosine similarity of the response to a configured system prompt",
}

# Per-request 0/1 flags computed at check time from descriptors and the config's thresholds.
FLAG_COLUMNS: dict[str, str] = {
    "is_error": "the request logged an error",
    "is_refusal": "refusal_prob >= thresholds.refusal",
    "is_unsafe_prompt": "prompt_unsafe_prob >= thresholds.unsafe",
    "is_unsafe_response": "response_unsafe_prob >= thresholds.unsafe",
    "has_pii": "the response has at least one PII hit",
    "is_injection": "injection_similarity >= thresholds.injection, or a known injection pattern in the prompt",
    "is_jailbreak": "jailbreak_similarity >= thresholds.jailbreak",
    "is_leakage": "leakage_overlap >= thresholds.leakage",
    "is_negative_feedback": "feedback below 0.5 (missing when no feedback)",
}

# Per-window metrics: computed by Evidently metrics over the window, stored in monitor_window_metrics. Those without
# a dot are levels that the baseline has too (monitor_baseline_metrics), so a rule may compare their change.
WINDOW_METRICS: dict[str, str] = {
    "rows": "requests in the window",
    "error_rate": "share of requests with an error",
    "latency_p50_ms": "median latency",
    "latency_p95_ms": "95th percentile latency",
    "latency_mean_ms": "mean latency",
    "prompt_tokens_mean": "mean prompt tokens",
    "completion_tokens_mean": "mean completion tokens",
    "tokens_total": "prompt plus completion tokens",
    "refusal_rate": "share of refused responses",
    "unsafe_prompt_rate": "share of unsafe prompts",
    "unsafe_response_rate": "share of unsafe responses",
    "pii_response_rate": "share of responses with PII",
    "injection_rate": "share of prompts flagged as prompt injection",
    "jailbreak_rate": "share of prompts flagged as jailbreak attempts",
    "leakage_rate": "share of responses that leak a system prompt",
    "feedback_mean": "mean feedback over requests that have feedback",
    "negative_feedback_rate": "share of negative feedback among requests that have feedback",
    "drifted_columns_share": "share of descriptor columns whose drift test fails (Evidently DriftedColumnsCount)",
    "text_drift.prompt": "prompt text drift: ROC AUC of Evidently's domain classifier (0.5 = no drift)",
    "text_drift.response": "response text drift: ROC AUC of Evidently's domain classifier",
    "embedding_drift.prompt": "prompt embedding drift: ROC AUC of Evidently's EmbeddingsDrift classifier",
    "embedding_drift.response": "response embedding drift: ROC AUC of Evidently's EmbeddingsDrift classifier",
    "failed_tests": "Evidently drift tests that failed in the window",
}
DRIFT_PREFIX = "drift."


def require_window_metric(name: str) -> str:
    """Return ``name`` when an alert rule or a gate drift check may name this metric.

    Args:
        name: a key of :data:`WINDOW_METRICS`, or ``drift.<descriptor>`` (Evidently's drift score of one
            descriptor column, e.g. ``drift.latency_ms``).

    Returns:
        ``name``.

    Raises:
        ValueError: the check computes no such metric.
    """
    computed = (name.removeprefix(DRIFT_PREFIX) in DESCRIPTOR_COLUMNS if name.startswith(DRIFT_PREFIX)
                else name in WINDOW_METRICS)
    if not computed:
        raise ValueError(f"{name!r} is not a monitor window metric: see `evalkit monitor metrics`")
    return name


def has_baseline_value(name: str) -> bool:
    """Return whether the baseline has its own value of a window metric (levels do; drift scores do not)."""
    return name in WINDOW_METRICS and "." not in name and name not in ("drifted_columns_share", "failed_tests")
