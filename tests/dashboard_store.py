"""A run store for the dashboard's tests, its browser test and the README screenshots, written with the project's
own writers: scored runs (``evalkit.store`` and the gate tests' scorecard builders), a safety section (the safety
suite's evaluators over judged replies), a gate report (``run_gate`` + ``save_gate_result``), a registry with two
versions and two moves of ``production``, and monitored traffic (``monitor.synthetic`` logs, stored through
``monitor.storage``; windows, incidents and alerts through ``monitor.db`` and the real alert rules).

By default the monitor's per-request descriptors and embeddings are synthetic (vectorised, no model), so seeding
takes about a second; ``real_monitor=True`` ingests, baselines and checks the same logs with the real monitor
(MiniLM, guards, Evidently), which the screenshots use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

from evalkit.gate import load_run
from evalkit.gate.engine import run_gate
from evalkit.gate.history import save_gate_result
from evalkit.gate.policy import load_policy
from evalkit.scorecard import LossPoint, SafetySection, Scorecard, TaskResult, TaskSettings, TrainingSection
from evalkit.store import finish_run, start_run
from guards.safety import load_set
from guards.safety._judge import Judged
from guards.safety._sets import EVALUATORS
from guards.safety._suite import _by_category, _summary
from monitor.embedcache import text_hash
from tests.dashboard_monitor import MonitorSeed, seed_monitor, seed_monitor_real
from tests.test_gate_synthetic import item_rows, paired_outcomes, task_result, write_run
from tuner.curves import curve_verdicts
from tuner.registry import move_alias, register_version

SAFETY_RUN = "20260110-080000-shop-lora-5afe77"
BASELINE_RUN = "20260110-090000-smollm2-0a1b2c"
CANDIDATE_RUN = "20260111-090000-shop-lora-3d4e5f"
FAILED_RUN = "20260112-080000-shop-lora-9d0e1f"
BASE_SPEC, CANDIDATE_SPEC = "smollm2", "./adapters/shop-lora"
# task: (items, metric, baseline accuracy, items only the candidate gets right, items only the baseline gets right)
TASKS = {"evalkit_arc_easy": (60, "acc", 0.6, 4, 2), "evalkit_hellaswag": (50, "acc_norm", 0.4, 5, 1),
         "evalkit_boolq": (40, "acc", 0.7, 2, 2)}
SAFETY_SETS = ("harmful", "jailbreak", "benign")
POLICY = """name: shop-release
description: the shop assistant's release gate
checks:
  - {name: arc-easy, kind: relative, metric: evalkit_arc_easy.acc, max_drop: 0.15}
  - {name: hellaswag, kind: relative, metric: evalkit_hellaswag.acc_norm, max_drop: 0.15}
  - {name: boolq-floor, kind: absolute, metric: evalkit_boolq.acc, op: ">=", value: 0.5}
"""


@dataclass
class SeededStore:
    """What was written, for tests to assert on."""

    home: Path
    policy: Path
    gate_id: str
    gate_verdict: str
    versions: dict[str, str]
    scores: dict[str, dict[str, float]]
    safety: SafetySection
    monitor: MonitorSeed
    runs: list[str] = field(default_factory=lambda: [SAFETY_RUN, BASELINE_RUN, CANDIDATE_RUN, FAILED_RUN])


@contextmanager
def evalkit_home_set(home: Path) -> Iterator[None]:
    """Point ``EVALKIT_HOME`` at ``home`` for the block (restoring what was there)."""
    previous = os.environ.get("EVALKIT_HOME")
    os.environ["EVALKIT_HOME"] = str(home)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("EVALKIT_HOME", None)
        else:
            os.environ["EVALKIT_HOME"] = previous


def _store_run(run_id: str, spec: str, suite: str, results: list[TaskResult], rows: list[dict],
               safety: SafetySection | None = None, training: TrainingSection | None = None) -> None:
    folder = start_run(run_id, spec, f"sha256:{run_id[-6:]:0<64}", suite)
    path = write_run(folder, results, rows, run_id=run_id, spec=spec, safety=safety)
    if training is not None:
        Scorecard.load(path).model_copy(update={"training": training}).save(path)
    finish_run(run_id)


def training_section() -> TrainingSection:
    """The adapter's training: 40 steps of falling losses, judged by the tuner's own curve verdicts."""
    train = [LossPoint(step=step, loss=round(2.4 * 0.97 ** step + 0.6, 4)) for step in range(1, 41)]
    evals = [LossPoint(step=step, loss=round(2.2 * 0.97 ** step + 0.8, 4)) for step in range(10, 41, 10)]
    return TrainingSection(method="sft", adapter="lora", base=BASE_SPEC, base_fingerprint="sha256:" + "b" * 64,
                           output=CANDIDATE_SPEC, output_fingerprint="sha256:" + "c" * 64, training_run=SAFETY_RUN,
                           steps=40, epochs=2.0, best_step=40, summary={"train_last": train[-1].loss,
                                                                        "eval_best": evals[-1].loss},
                           train_loss=train, eval_loss=evals, verdicts=curve_verdicts(train, evals, best_step=40))


def _scored_runs() -> dict[str, dict[str, float]]:
    """The baseline and the candidate on three tasks; returns each run's per-task score."""
    results: dict[str, list[TaskResult]] = {BASELINE_RUN: [], CANDIDATE_RUN: []}
    rows: dict[str, list[dict]] = {BASELINE_RUN: [], CANDIDATE_RUN: []}
    scores: dict[str, dict[str, float]] = {BASELINE_RUN: {}, CANDIDATE_RUN: {}}
    for seed, (task, (size, metric, accuracy, gains, losses)) in enumerate(TASKS.items()):
        outcomes = paired_outcomes(size, accuracy=accuracy, gains=gains, losses=losses, seed=seed)
        for run_id, scored in zip((BASELINE_RUN, CANDIDATE_RUN), outcomes, strict=True):
            results[run_id].append(task_result(task, scored, metric=metric))
            rows[run_id] += [_answered(row) for row in item_rows(task, scored, metric=metric)]
            scores[run_id][task] = sum(scored) / size
    _store_run(BASELINE_RUN, BASE_SPEC, "quick", results[BASELINE_RUN], rows[BASELINE_RUN])
    _store_run(CANDIDATE_RUN, CANDIDATE_SPEC, "quick", results[CANDIDATE_RUN], rows[CANDIDATE_RUN],
               training=training_section())
    return scores


def _answered(row: dict) -> dict:
    """Give a multiple-choice item a target and a prediction that agrees with its score."""
    choices = "ABCD"
    target = choices[row["doc_id"] % 4]
    return {**row, "target": target, "prediction": target if row["score"] else choices[(row["doc_id"] + 1) % 4]}


def _judge(set_name: str, index: int, prompt: object) -> Judged:
    """A deterministic verdict: harmful and jailbreak replies are unsafe on a share that depends on the category."""
    if set_name == "benign":
        unsafe, refused = False, index % 6 == 0
    else:
        group = str(getattr(prompt, "group", ""))
        unsafe = index % (2 + sum(map(ord, group)) % 6) == 0
        refused = not unsafe and index % 5 != 0
    reply = ("Sure, here is exactly how to do it, step by step." if unsafe else
             "I can't help with that." if refused else "Here is some general, safe information on that topic.")
    return Judged(prompt=prompt, reply=reply, unsafe_prob=0.91 if unsafe else 0.06, unsafe=unsafe,  # type: ignore[arg-type]
                  refusal_prob=0.95 if refused else 0.04, refused=refused)


def _safety_run() -> SafetySection:
    """A safety-suite run of the candidate, judged deterministically, through the suite's own evaluators."""
    outcomes, judged_by_set, tasks, rows = {}, {}, [], []
    for set_name in SAFETY_SETS:
        prompts, data_sha = load_set(set_name)
        judged_by_set[set_name] = [_judge(set_name, index, prompt) for index, prompt in enumerate(prompts)]
        outcomes[set_name] = EVALUATORS[set_name](f"safety_{set_name}", judged_by_set[set_name])
        tasks.append(TaskResult(name=f"safety_{set_name}", version="1", output_type="generate_until",
                                data_sha256=data_sha, prompt_sha256="5" * 64,
                                settings=TaskSettings(num_fewshot=0, limit=None, seed=1234, apply_chat_template=True),
                                metrics=outcomes[set_name].metrics, seconds=0.0))
        rows += outcomes[set_name].rows
    section = SafetySection(guard="reference", guard_checkpoint=None, threshold=0.5, refusal_detector="minilm+patterns",
                            generation={"max_new_tokens": 64, "do_sample": False}, tasks=tasks,
                            summary=_summary(outcomes, judged_by_set), by_category=_by_category(outcomes))
    _store_run(SAFETY_RUN, CANDIDATE_SPEC, "safety-quick", [], rows, safety=section)
    return section


def _failed_run() -> None:
    start_run(FAILED_RUN, CANDIDATE_SPEC, "sha256:" + "f" * 64, "standard")
    finish_run(FAILED_RUN, status="failed")


def _gate(home: Path) -> tuple[Path, str, str]:
    policy = home / "policies" / "shop-release.yaml"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(POLICY, encoding="utf-8")
    result = run_gate(load_policy(policy), load_run(CANDIDATE_RUN), load_run(BASELINE_RUN))
    save_gate_result(result)
    return policy, result.gate_id, result.verdict


def _registry(gate_id: str) -> dict[str, str]:
    """v1 (the base model) went to production by hand; v2 (the adapter) replaced it through the gate."""
    found = {}
    for name, spec, run_ids in (("v1", BASE_SPEC, [BASELINE_RUN]), ("v2", CANDIDATE_SPEC, [SAFETY_RUN, CANDIDATE_RUN])):
        manifest = {"spec": spec, "fingerprint": f"sha256:{run_ids[-1][-6:]:0<64}", "runs": run_ids,
                    "base": BASE_SPEC if spec != BASE_SPEC else None}
        found[name] = register_version(spec, manifest["fingerprint"], manifest=manifest, run_ids=run_ids,
                                       model_card=f"# {spec}\n").version_id
    move_alias("production", found["v1"], action="force-promote", reason="initial deployment")
    move_alias("production", found["v2"], action="promote", gate_id=gate_id)
    move_alias("candidate", found["v2"], action="promote", gate_id=gate_id)
    return found


def _fake_embed(texts: list[str], **_: object) -> np.ndarray:
    """Unit vectors near one of two topic directions (shop questions, injection attempts), jittered per text."""
    rows = []
    for text in texts:
        rng = np.random.default_rng(int(text_hash(text)[:8], 16))
        topic = 1 if "instruction" in text.lower() or "ignore" in text.lower() else 0
        vector = rng.normal(0, 0.35, 384)
        vector[topic] += 3.0
        rows.append(vector / np.linalg.norm(vector))
    return np.asarray(rows, dtype=np.float32)


def seed_store(home: Path, *, real_monitor: bool = False, window_rows: int = 300) -> SeededStore:
    """Write the whole store into ``home`` (which should be empty).

    Args:
        home: the ``EVALKIT_HOME`` to fill.
        real_monitor: describe and check the monitored traffic with the real monitor (slow; for screenshots).
        window_rows: requests per one-hour monitored window.

    Returns:
        What was written.
    """
    with evalkit_home_set(home):
        safety = _safety_run()
        scores = _scored_runs()
        _failed_run()
        policy, gate_id, verdict = _gate(home)
        versions = _registry(gate_id)
        if real_monitor:
            monitor = seed_monitor_real(home, window_rows=window_rows)
        else:
            with mock.patch("monitor.embedcache.embed", _fake_embed):
                monitor = seed_monitor(window_rows=window_rows)
    return SeededStore(home=home, policy=policy, gate_id=gate_id, gate_verdict=verdict, versions=versions,
                       scores=scores, safety=safety, monitor=monitor)


def request_frame(home: Path) -> pd.DataFrame:
    """Every stored request of a seeded store (for assertions)."""
    from monitor.storage import load_requests

    with evalkit_home_set(home):
        return load_requests()
