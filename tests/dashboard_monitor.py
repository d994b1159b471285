"""Monitored traffic for the dashboard's seeded store (see ``tests/dashboard_store.py``).

One hour of reference traffic with four times a window's requests (Evidently scores descriptor drift as a normed
Wasserstein distance only from 1,000 reference rows; below that its score is a KS p-value, which the bundled rules
do not expect), then four one-hour windows: the same distribution, a latency spike, and two hours of a
prompt-injection campaign, plus a few requests of an open fifth hour. With the bundled alert rules the spike fires
``latency-spike`` (resolved the next hour) and the campaign fires ``injection-campaign``, which stays open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from monitor.catalog import DESCRIPTOR_COLUMNS
from monitor.config import load_config
from monitor.db import monitor_db, now_iso
from monitor.drift import add_flags
from monitor.embedcache import EmbeddingCache, text_hash
from monitor.rules import evaluate
from monitor.storage import monitor_home, write_frame, write_partition
from monitor.synthetic import generate, write_jsonl

START = pd.Timestamp("2026-01-01T00:00:00Z")
HOUR = pd.Timedelta(hours=1)
SCENARIOS = ("same", "latency_spike", "injection_campaign", "injection_campaign")
WINDOW_SPEC = "1h"
BASELINE_ID = "20260101-010000-seed01"
INJECTION = r"ignore|disregard|override|instructions|reveal"


@dataclass
class MonitorSeed:
    """What the monitor holds after seeding."""

    baseline_id: str
    window_spec: str
    window_ids: list[str]
    window_metrics: list[dict[str, float]]
    requests: int
    alerts: list[tuple[str, str, str]]
    open_rules: list[str]


def traffic(window_rows: int) -> pd.DataFrame:
    """The log rows: reference hour, the four windows, and 10 requests of the open fifth hour."""
    interval = 3600 / window_rows
    parts = [generate("reference", 4 * window_rows, start=START.isoformat(), seed=0, interval_s=interval / 4)]
    for index, scenario in enumerate(SCENARIOS, start=1):
        parts.append(generate(scenario, window_rows, start=(START + index * HOUR).isoformat(), seed=index,
                              interval_s=interval, id_prefix=f"w{index}-{scenario}"))
    parts.append(generate("same", 10, start=(START + 5 * HOUR).isoformat(), seed=9, id_prefix="open"))
    return pd.concat(parts, ignore_index=True)


def describe(logs: pd.DataFrame, ingest_id: str) -> pd.DataFrame:
    """Synthetic descriptors in the monitor's storage schema: lengths and logged fields are real, model scores are
    set by rule (refusals from the reply's wording, injection similarity from the prompt's wording)."""
    prompts, responses = logs["prompt"], logs["response"].fillna("")
    injection = prompts.str.contains(INJECTION, case=False)
    return pd.DataFrame({
        "timestamp": pd.to_datetime(logs["timestamp"], utc=True, format="ISO8601").astype("datetime64[ns, UTC]"),
        "request_id": logs["request_id"], "model_version": logs["model_version"], "prompt": prompts,
        "response": responses, "error": logs["error"], "retrieved_contexts": None, "metadata": None,
        "prompt_hash": prompts.map(text_hash), "response_hash": responses.map(text_hash), "response_pii_kinds": "",
        "ingest_id": ingest_id, "source_row": np.arange(len(logs)),
        "prompt_chars": prompts.str.len().astype(float), "prompt_words": prompts.str.split().str.len().astype(float),
        "response_chars": responses.str.len().astype(float),
        "response_words": responses.str.split().str.len().astype(float),
        "latency_ms": logs["latency_ms"].astype(float), "prompt_tokens": logs["prompt_tokens"].astype(float),
        "completion_tokens": logs["completion_tokens"].astype(float),
        "refusal_prob": np.where(responses.str.startswith("I can't"), 0.92, 0.04),
        "prompt_unsafe_prob": 0.03, "response_unsafe_prob": 0.04, "response_pii_count": 0.0,
        "injection_similarity": np.where(injection, 0.83, 0.21),
        "jailbreak_similarity": np.where(prompts.str.contains("DAN"), 0.66, 0.18),
        "leakage_overlap": 0.0, "leakage_similarity": 0.12,
        "feedback": logs["feedback"].map({"up": 1.0, "down": 0.0}).astype(float),
        "injection_pattern": injection.astype(float),
    })


def levels(frame: pd.DataFrame) -> dict[str, float]:
    """The window's level metrics, as the monitor names them."""
    flagged = add_flags(frame, load_config().thresholds)
    latency = flagged["latency_ms"]
    return {"rows": float(len(flagged)), "error_rate": flagged["is_error"].mean(),
            "latency_p50_ms": latency.quantile(0.5), "latency_p95_ms": latency.quantile(0.95),
            "latency_mean_ms": latency.mean(), "refusal_rate": flagged["is_refusal"].mean(),
            "unsafe_response_rate": flagged["is_unsafe_response"].mean(),
            "injection_rate": flagged["is_injection"].mean(), "jailbreak_rate": flagged["is_jailbreak"].mean(),
            "feedback_mean": flagged["feedback"].mean(),
            "negative_feedback_rate": flagged["is_negative_feedback"].mean()}


def drift(window: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """Normed Wasserstein distance per descriptor (Evidently's default test above 1,000 rows) and a novelty-based
    stand-in for the text and embedding drift scores (0.5 when every text was seen in the reference)."""
    scores = {}
    for column in DESCRIPTOR_COLUMNS:
        spread = reference[column].std()
        if spread and spread > 0:
            scores[f"drift.{column}"] = wasserstein_distance(window[column], reference[column]) / spread
    failed = sum(value > 0.1 for value in scores.values())
    scores |= {"failed_tests": float(failed), "drifted_columns_share": failed / len(scores)}
    for side in ("prompt", "response"):
        novel = 1 - window[side].isin(set(reference[side])).mean()
        scores |= {f"text_drift.{side}": 0.5 + novel / 2, f"embedding_drift.{side}": 0.5 + novel / 2}
    return scores


def _store_baseline(reference: pd.DataFrame) -> None:
    path = monitor_home() / "baselines" / f"{BASELINE_ID}.parquet"
    write_frame(path, reference)
    with monitor_db() as db:
        db.execute("INSERT INTO monitor_baselines VALUES (?,?,?,?,?,?,?,1)",
                   (BASELINE_ID, now_iso(), "requests seeded", START.isoformat(), (START + HOUR).isoformat(),
                    len(reference), str(path)))
        db.executemany("INSERT INTO monitor_baseline_metrics VALUES (?,?,?)",
                       [(BASELINE_ID, name, value) for name, value in levels(reference).items()])


def _store_window(index: int, window: pd.DataFrame, reference: pd.DataFrame) -> None:
    start = START + index * HOUR
    metrics = levels(window) | drift(window, reference)
    config = load_config()
    with monitor_db() as db:
        db.execute("INSERT INTO monitor_windows VALUES (?,?,?,?,?,?,?,?,?,?)",
                   (f"seed-w{index}", BASELINE_ID, WINDOW_SPEC, start.isoformat(), (start + HOUR).isoformat(),
                    len(window), "ok", int(metrics["failed_tests"]), None, now_iso()))
        db.executemany("INSERT INTO monitor_window_metrics VALUES (?,?,?)",
                       [(f"seed-w{index}", name, value) for name, value in metrics.items()])
        evaluate(db, config, BASELINE_ID, WINDOW_SPEC)


def seed_monitor(*, window_rows: int) -> MonitorSeed:
    """Store the traffic with synthetic descriptors, embed its texts with whatever ``monitor.embedcache.embed`` is,
    freeze the reference hour as the baseline and check the four complete windows with the bundled rules."""
    described = describe(traffic(window_rows), "seed-ingest")
    write_partition(described, "seed-ingest")
    texts = pd.concat([described["prompt"], described["response"]]).drop_duplicates().tolist()
    EmbeddingCache(load_config().embedder).ensure(texts)
    hour = (described["timestamp"] - START) // HOUR
    reference = described[hour == 0].reset_index(drop=True)
    _store_baseline(reference)
    for index in range(1, len(SCENARIOS) + 1):
        _store_window(index, described[hour == index].reset_index(drop=True), reference)
    return summarise(BASELINE_ID, len(described))


def seed_monitor_real(home: Path, *, window_rows: int) -> MonitorSeed:
    """The same traffic through the real monitor: ingest (MiniLM, guard, refusal detector), baseline, Evidently."""
    import monitor

    logs = write_jsonl(home / "monitor-sample.jsonl", [traffic(window_rows)])
    config = monitor.load_config()
    added = monitor.ingest_logs(logs, config).rows_added
    baseline = monitor.baseline_from_range(START, START + HOUR, config)
    monitor.check_windows(config, monitor.parse_window(WINDOW_SPEC))
    return summarise(baseline.baseline_id, added)


def summarise(baseline_id: str, requests: int) -> MonitorSeed:
    """Read back the series, its metrics and its alerts."""
    with monitor_db() as db:
        windows = [row["window_id"] for row in db.execute(
            "SELECT window_id FROM monitor_windows WHERE baseline_id = ? ORDER BY start_ts", (baseline_id,))]
        metrics = [{row["metric"]: row["value"] for row in db.execute(
            "SELECT metric, value FROM monitor_window_metrics WHERE window_id = ?", (window_id,))}
            for window_id in windows]
        alerts = [(row["rule"], row["kind"], row["window_id"]) for row in db.execute(
            "SELECT rule, kind, window_id FROM monitor_alerts ORDER BY window_end, rule")]
        open_rules = [row["rule"] for row in db.execute(
            "SELECT rule FROM monitor_incidents WHERE status = 'open' ORDER BY rule")]
    return MonitorSeed(baseline_id=baseline_id, window_spec=WINDOW_SPEC, window_ids=windows, window_metrics=metrics,
                       requests=requests, alerts=alerts, open_rules=open_rules)
