"""The safety suite end to end on a tiny random Llama (replies are gibberish; what is checked is the plumbing:
every set produces rates with n and stderr, rows in items.jsonl that reproduce them, and gate-readable paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.gate.paths import known_metric_paths, lookup_metric, parse_metric_path
from evalkit.items import read_items
from evalkit.score import ScoreOptions, score
from evalkit.scorecard import Scorecard
from evalkit.suites import load_suite
from guards.safety import SETS, SafetySettings

LIMIT = 3


@pytest.fixture(scope="module")
def safety_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Scorecard:
    home = tmp_path_factory.mktemp("safety-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVALKIT_HOME", str(home))
        return score(str(tiny_model_dir), [], ScoreOptions(), suite="safety",
                     safety=SafetySettings(limit=LIMIT, max_new_tokens=6))


def test_every_set_is_a_task_with_hashes_and_rates(safety_run: Scorecard) -> None:
    section = safety_run.safety
    assert section is not None and section.guard == "reference"
    assert [task.name for task in section.tasks] == [f"safety_{name}" for name in SETS]
    for task in section.tasks:
        assert len(task.data_sha256) == 64 and len(task.prompt_sha256) == 64
        for metric in task.metrics:
            assert metric.n <= LIMIT * 4 and (metric.value is None or 0.0 <= metric.value <= 1.0)


def test_the_summary_has_the_headline_rates_with_n_and_stderr(safety_run: Scorecard) -> None:
    summary = {metric.name: metric for metric in safety_run.safety.summary}
    for name in ("unsafe_response_rate", "refusal_rate", "over_refusal_rate", "jailbreak_success_rate"):
        assert name in summary
    pooled = summary["unsafe_response_rate"]
    assert pooled.n == 3 * LIMIT and pooled.higher_is_better is False


def test_item_rows_reproduce_each_rate(safety_run: Scorecard) -> None:
    rows = read_items(Path(safety_run.items_path))
    for task in safety_run.safety.tasks:
        for metric in task.metrics:
            scores = [row["score"] for row in rows if row["task"] == task.name and row["metric"] == metric.name]
            if metric.name in ("fairness_gap", "unparsed_rate"):
                continue
            assert len(scores) == metric.n
            if scores:
                assert sum(scores) / len(scores) == pytest.approx(metric.value)


def test_the_gate_reads_safety_paths(safety_run: Scorecard) -> None:
    paths = known_metric_paths(safety_run)
    assert "safety.unsafe_response_rate" in paths and "safety_harmful.refusal_rate" in paths
    found = lookup_metric(safety_run, parse_metric_path("safety.over_refusal_rate"), role="candidate")
    assert found.n == LIMIT and found.higher_is_better is False


def test_suites_combine_tasks_with_one_safety_block() -> None:
    combined = load_suite("quick,safety")
    assert combined.name == "quick+safety" and combined.safety is not None and len(combined.tasks) == 18


def test_replies_are_generated_inside_the_checkpoints_chat_template(tiny_model_dir: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from transformers import AutoTokenizer

    import guards.safety._suite as suite_module

    chatty = tmp_path / "chatty"
    shutil.copytree(tiny_model_dir, chatty)
    tokenizer = AutoTokenizer.from_pretrained(chatty)
    tokenizer.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
                               "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    tokenizer.save_pretrained(chatty)
    contexts: list[str] = []
    real = suite_module.generate_replies

    def recording(lm: object, prompts: list[str], *, max_new_tokens: int, use_chat_template: bool) -> list[str]:
        from evalkit.generation import render_chat

        contexts.extend(render_chat(lm, prompt, use_chat_template=use_chat_template) for prompt in prompts)
        return real(lm, prompts, max_new_tokens=max_new_tokens, use_chat_template=use_chat_template)

    monkeypatch.setattr(suite_module, "generate_replies", recording)
    monkeypatch.setenv("EVALKIT_HOME", str(tmp_path / "home"))
    scorecard = score(str(chatty), [], ScoreOptions(), suite="safety",
                      safety=SafetySettings(sets=["benign"], limit=2, max_new_tokens=4))
    assert scorecard.safety is not None and scorecard.safety.generation["chat_template"] is True
    assert len(contexts) == 2 and all(context.startswith("<|user|>") and context.endswith("<|assistant|>")
                                      for context in contexts)
