"""``evalkit.score.score`` end to end on a tiny random Llama folder: what a run writes into the run store, the
Scorecard's fields, ``items.jsonl``, the seed metrics, the result cache, failed runs, and endpoint checkpoints.

One multiple-choice task (``evalkit_arc_easy``, 3 items) and one generation task (``evalkit_gsm8k``, 2 items,
8 new tokens) are scored; each run takes a few seconds on a CPU.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from evalkit import store
from evalkit.checkpoints import resolve
from evalkit.errors import RunNotFoundError
from evalkit.items import item_id, read_items
from evalkit.score import ScoreOptions, score
from evalkit.scorecard import Scorecard
from evalkit.suites import SuiteEntry
from evalkit.tasks_resolve import BUNDLED_TASKS_DIR
from tests.openai_server import serve

ARC = "evalkit_arc_easy"
GSM8K = "evalkit_gsm8k"
ARC_LIMIT, GSM8K_LIMIT, MAX_GEN_TOKS = 3, 2, 8
PPL_TEXTS = ["The cat sat on the mat.", "Two plus two is four. The dog ran in the park.", "Paris é a capital."]
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _entries() -> list[SuiteEntry]:
    return [SuiteEntry(task=ARC, limit=ARC_LIMIT),
            SuiteEntry(task=GSM8K, limit=GSM8K_LIMIT, gen_kwargs={"max_gen_toks": MAX_GEN_TOKS})]


def _run_folder(scorecard: Scorecard) -> Path:
    return Path(scorecard.items_path).parent


def _task_rows(scorecard: Scorecard, task: str) -> list[dict]:
    return [row for row in read_items(Path(scorecard.items_path)) if row["task"] == task]


def _bundled_docs(task: str, count: int) -> list[dict]:
    lines = (BUNDLED_TASKS_DIR / "data" / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:count]]


@dataclass
class ScoredRun:
    home: Path
    spec: str
    scorecard: Scorecard


@pytest.fixture(scope="module")
def scored(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScoredRun]:
    """One run of the tiny model on both tasks, with ``--ppl-data``, in its own EVALKIT_HOME."""
    home = tmp_path_factory.mktemp("score-home")
    ppl_file = home.parent / "ppl.jsonl"
    ppl_file.write_text("".join(json.dumps({"text": text}) + "\n" for text in PPL_TEXTS), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVALKIT_HOME", str(home))
        scorecard = score(str(tiny_model_dir), _entries(), ScoreOptions(ppl_data=ppl_file))
        yield ScoredRun(home, str(tiny_model_dir), scorecard)


def test_run_writes_scorecard_items_reports_and_plot_into_its_folder(scored: ScoredRun) -> None:
    folder = scored.home / "runs" / scored.scorecard.run_id
    assert _run_folder(scored.scorecard) == folder
    assert sorted(path.name for path in folder.iterdir()) == [
        "items.jsonl", "report.html", "report.md", "scorecard.json", "scores.png"]
    assert (folder / "scores.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_run_is_indexed_as_finished(scored: ScoredRun) -> None:
    [record] = store.list_runs(include_unfinished=True)
    assert (record.run_id, record.status, record.spec) == (scored.scorecard.run_id, "finished", scored.spec)
    assert store.get_run(scored.scorecard.run_id).path == _run_folder(scored.scorecard)


def test_saved_scorecard_validates_against_the_model_and_equals_the_returned_one(scored: ScoredRun) -> None:
    raw = (_run_folder(scored.scorecard) / "scorecard.json").read_text(encoding="utf-8")
    assert Scorecard.model_validate_json(raw) == scored.scorecard
    assert Scorecard.model_validate(json.loads(raw)).schema_version == 1


def test_every_metric_has_value_stderr_and_n(scored: ScoredRun) -> None:
    found = {(task.name, metric.name, metric.filter): metric for task in scored.scorecard.tasks
             for metric in task.metrics}
    assert set(found) == {(ARC, "acc", "none"), (ARC, "acc_norm", "none"),
                          (GSM8K, "exact_match", "strict-match"), (GSM8K, "exact_match", "flexible-extract")}
    for (task, _, _), metric in found.items():
        assert metric.value is not None and 0.0 <= metric.value <= 1.0
        assert metric.stderr is not None and metric.stderr >= 0.0
        assert metric.n == (ARC_LIMIT if task == ARC else GSM8K_LIMIT)


def test_checkpoint_fingerprint_dtype_and_backend_are_recorded(scored: ScoredRun) -> None:
    checkpoint = scored.scorecard.checkpoint
    assert checkpoint.spec == scored.spec
    assert checkpoint.kind == "hf_dir"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", checkpoint.fingerprint)
    assert checkpoint.fingerprint == resolve(scored.spec).fingerprint
    assert (checkpoint.dtype, checkpoint.backend) == ("float32", "evalkit-prefix")


def test_task_data_and_prompt_hashes_are_64_hex_and_differ_between_tasks(scored: ScoredRun) -> None:
    arc, gsm8k = scored.scorecard.tasks
    for task in (arc, gsm8k):
        assert HEX64.match(task.data_sha256) and HEX64.match(task.prompt_sha256)
    assert arc.data_sha256 != gsm8k.data_sha256 and arc.prompt_sha256 != gsm8k.prompt_sha256


def test_task_settings_record_limit_shots_seed_and_gen_kwargs(scored: ScoredRun) -> None:
    arc, gsm8k = scored.scorecard.tasks
    assert (arc.settings.limit, arc.settings.num_fewshot, arc.settings.seed) == (ARC_LIMIT, 0, 1234)
    assert (gsm8k.settings.limit, gsm8k.settings.num_fewshot) == (GSM8K_LIMIT, 5)
    assert gsm8k.settings.gen_kwargs == {"max_gen_toks": MAX_GEN_TOKS}
    assert (arc.output_type, gsm8k.output_type) == ("multiple_choice", "generate_until")


def test_items_have_one_row_per_item_and_metric(scored: ScoredRun) -> None:
    arc_rows = _task_rows(scored.scorecard, ARC)
    gsm8k_rows = [row for row in _task_rows(scored.scorecard, GSM8K) if row["metric"] == "exact_match"]
    arc_keys = Counter((row["item_id"], row["metric"]) for row in arc_rows)
    assert len(arc_keys) == ARC_LIMIT * 2 and set(arc_keys.values()) == {1}
    assert {metric for _, metric in arc_keys} == {"acc", "acc_norm"}
    gsm8k_keys = Counter((row["item_id"], row["filter"]) for row in gsm8k_rows)
    assert len(gsm8k_keys) == GSM8K_LIMIT * 2 and set(gsm8k_keys.values()) == {1}


def test_item_id_is_the_stable_hash_of_the_document(scored: ScoredRun) -> None:
    expected = {item_id(doc) for doc in _bundled_docs(ARC, ARC_LIMIT)}
    assert {row["item_id"] for row in _task_rows(scored.scorecard, ARC)} == expected


def test_item_ids_are_the_same_in_a_fresh_run(scored: ScoredRun, tiny_model_dir: Path, evalkit_home: Path) -> None:
    again = score(str(tiny_model_dir), [SuiteEntry(task=ARC, limit=ARC_LIMIT)], ScoreOptions())
    assert again.tasks[0].cached_from is None
    assert [row["item_id"] for row in _task_rows(again, ARC)] == [
        row["item_id"] for row in _task_rows(scored.scorecard, ARC)]


def test_multiple_choice_rows_carry_one_logprob_per_choice_and_predict_the_best(scored: ScoredRun) -> None:
    docs = {item_id(doc): doc for doc in _bundled_docs(ARC, ARC_LIMIT)}
    for row in _task_rows(scored.scorecard, ARC):
        choices = docs[row["item_id"]]["choices"]["text"]
        assert len(row["logprobs"]) == len(choices) == len(row["is_greedy"])
        assert all(value < 0 for value in row["logprobs"])
        assert row["target"] == docs[row["item_id"]]["choices"]["label"].index(docs[row["item_id"]]["answerKey"])
        if row["metric"] == "acc":
            best = max(range(len(choices)), key=row["logprobs"].__getitem__)
            assert row["prediction"].strip() == choices[best]
            assert row["correct"] == (best == row["target"])


def test_prompt_perplexity_is_reported_for_each_task_with_n(scored: ScoredRun) -> None:
    prompt_ppl = {entry.source: entry for entry in scored.scorecard.seed_metrics.prompt_perplexity}
    assert set(prompt_ppl) == {f"prompts:{ARC}", f"prompts:{GSM8K}"}
    assert prompt_ppl[f"prompts:{ARC}"].n == ARC_LIMIT and prompt_ppl[f"prompts:{GSM8K}"].n == GSM8K_LIMIT
    for entry in prompt_ppl.values():
        assert entry.tokens > 0 and math.isclose(entry.token_perplexity, math.exp(entry.cross_entropy))


def test_generation_uncertainty_is_reported_for_the_generation_task_only(scored: ScoredRun,
                                                                         tiny_model_dir: Path) -> None:
    [uncertainty] = scored.scorecard.seed_metrics.uncertainty
    vocab_size = json.loads((tiny_model_dir / "config.json").read_text())["vocab_size"]
    assert (uncertainty.task, uncertainty.n) == (GSM8K, GSM8K_LIMIT)
    assert uncertainty.tokens > 0 and uncertainty.mean_nll > 0
    assert 0 < uncertainty.mean_entropy <= math.log(vocab_size) + 1e-6
    rows = [row for row in _task_rows(scored.scorecard, GSM8K) if row["metric"] == "generation_mean_entropy"]
    assert len(rows) == GSM8K_LIMIT
    assert math.isclose(sum(row["score"] for row in rows) / len(rows), uncertainty.mean_entropy, rel_tol=1e-9)


def _independent_nll(model_dir: Path, text: str) -> tuple[float, int]:
    """Summed NLL of ``text``'s tokens after the BOS token, and its token count, computed with torch directly."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([[tokenizer.bos_token_id, *ids]])).logits[0, :-1]
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return -float(log_probs[torch.arange(len(ids)), torch.tensor(ids)].sum()), len(ids)


def test_ppl_data_perplexity_matches_torch_and_is_internally_consistent(scored: ScoredRun,
                                                                        tiny_model_dir: Path) -> None:
    [ppl] = scored.scorecard.seed_metrics.perplexity
    nll_and_tokens = [_independent_nll(tiny_model_dir, text) for text in PPL_TEXTS]
    total_nll = sum(nll for nll, _ in nll_and_tokens)
    assert (ppl.source, ppl.n) == ("ppl.jsonl", len(PPL_TEXTS))
    assert ppl.tokens == sum(tokens for _, tokens in nll_and_tokens)
    assert ppl.bytes == sum(len(text.encode("utf-8")) for text in PPL_TEXTS)
    assert math.isclose(ppl.cross_entropy, total_nll / ppl.tokens, rel_tol=1e-4)
    assert math.isclose(ppl.token_perplexity, math.exp(ppl.cross_entropy), rel_tol=1e-9)
    assert math.isclose(ppl.byte_perplexity, math.exp(ppl.cross_entropy * ppl.tokens / ppl.bytes), rel_tol=1e-9)
    assert math.isclose(ppl.bits_per_byte, math.log2(ppl.byte_perplexity), rel_tol=1e-9)
    rows = _task_rows(scored.scorecard, "perplexity:ppl.jsonl")
    assert [row["item_id"] for row in rows] == [item_id({"text": text}) for text in PPL_TEXTS]


def _metric_values(scorecard: Scorecard) -> dict[tuple[str, str, str], tuple[float | None, float | None, int]]:
    return {(task.name, metric.name, metric.filter): (metric.value, metric.stderr, metric.n)
            for task in scorecard.tasks for metric in task.metrics}


def test_identical_second_run_reuses_stored_results_without_loading_the_model(tiny_model_dir: Path,
                                                                              evalkit_home: Path) -> None:
    first = score(str(tiny_model_dir), _entries(), ScoreOptions())
    second = score(str(tiny_model_dir), _entries(), ScoreOptions())
    assert second.run_id != first.run_id
    assert [task.cached_from for task in second.tasks] == [first.run_id, first.run_id]
    assert "load" in first.timings and "load" not in second.timings
    assert _metric_values(second) == _metric_values(first)
    assert second.seed_metrics == first.seed_metrics
    assert read_items(Path(second.items_path)) == read_items(Path(first.items_path))
    assert [record.status for record in store.list_runs(include_unfinished=True)] == ["finished", "finished"]


def test_use_cache_false_runs_the_tasks_again(tiny_model_dir: Path, evalkit_home: Path) -> None:
    first = score(str(tiny_model_dir), _entries(), ScoreOptions())
    again = score(str(tiny_model_dir), _entries(), ScoreOptions(use_cache=False))
    assert [task.cached_from for task in again.tasks] == [None, None]
    assert "load" in again.timings
    assert _metric_values(again) == _metric_values(first)


def _flip_first_weight_byte(safetensors_file: Path) -> None:
    """XOR the lowest bit of the first tensor byte (just past the safetensors JSON header)."""
    data = bytearray(safetensors_file.read_bytes())
    (header_length,) = struct.unpack("<Q", data[:8])
    data[8 + header_length] ^= 0x01
    safetensors_file.write_bytes(bytes(data))


def test_changing_one_weight_byte_misses_the_cache(tiny_model_dir: Path, tmp_path: Path,
                                                   evalkit_home: Path) -> None:
    model_copy = tmp_path / "model-copy"
    shutil.copytree(tiny_model_dir, model_copy)
    entries = [SuiteEntry(task=ARC, limit=ARC_LIMIT)]
    before = score(str(model_copy), entries, ScoreOptions())
    assert score(str(model_copy), entries, ScoreOptions()).tasks[0].cached_from == before.run_id
    _flip_first_weight_byte(model_copy / "model.safetensors")
    after = score(str(model_copy), entries, ScoreOptions())
    assert after.checkpoint.fingerprint != before.checkpoint.fingerprint
    assert after.tasks[0].cached_from is None and "load" in after.timings


FAILING_TASK_YAML = """\
task: scorer_crash
custom_dataset: !function crash_utils.load_docs
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_target: "{{answer}}"
doc_to_choice: "{{choices}}"
process_results: !function crash_utils.crash
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""
FAILING_TASK_UTILS = '''\
import datasets


def load_docs(**kwargs):
    docs = [{"question": "Two plus two?", "choices": ["four", "five"], "answer": 0}]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def crash(doc, results):
    raise RuntimeError("scorer crashed mid-task")
'''


@pytest.fixture
def crashing_task(tmp_path: Path) -> Path:
    """A task YAML (with its helper module beside it) whose scorer raises on the first item."""
    task_dir = tmp_path / "crash_task"
    task_dir.mkdir()
    (task_dir / "crash_utils.py").write_text(FAILING_TASK_UTILS, encoding="utf-8")
    path = task_dir / "scorer_crash.yaml"
    path.write_text(FAILING_TASK_YAML, encoding="utf-8")
    return path


def test_run_that_fails_during_a_task_is_indexed_failed_and_leaves_no_scorecard(
        tiny_model_dir: Path, crashing_task: Path, evalkit_home: Path) -> None:
    entries = [SuiteEntry(task=ARC, limit=1), SuiteEntry(task=str(crashing_task))]
    with pytest.raises(RuntimeError, match="scorer crashed mid-task"):
        score(str(tiny_model_dir), entries, ScoreOptions())
    [record] = store.list_runs(include_unfinished=True)
    assert record.status == "failed"
    assert store.list_runs() == []
    assert not (record.path / "scorecard.json").exists()
    with pytest.raises(RunNotFoundError):
        store.get_run(record.run_id)


def test_tasks_of_a_failed_run_are_not_reused_from_the_cache(tiny_model_dir: Path, crashing_task: Path,
                                                             evalkit_home: Path) -> None:
    entries = [SuiteEntry(task=ARC, limit=1), SuiteEntry(task=str(crashing_task))]
    with pytest.raises(RuntimeError, match="scorer crashed mid-task"):
        score(str(tiny_model_dir), entries, ScoreOptions())

    rerun = score(str(tiny_model_dir), [SuiteEntry(task=ARC, limit=1)], ScoreOptions())

    assert rerun.tasks[0].cached_from is None


def test_a_different_prompt_sample_size_misses_the_cache(tiny_model_dir: Path, evalkit_home: Path) -> None:
    entries = [SuiteEntry(task=ARC, limit=2)]
    score(str(tiny_model_dir), entries, ScoreOptions(prompt_ppl_sample=0))

    again = score(str(tiny_model_dir), entries, ScoreOptions(prompt_ppl_sample=2))

    assert again.tasks[0].cached_from is None
    assert again.seed_metrics.prompt_perplexity[0].n == 2


ENDPOINT_MODEL = "tiny-llama"


@pytest.fixture(scope="module")
def endpoint_url(tiny_model_dir: Path) -> Iterator[str]:
    """The tiny model behind a local OpenAI-compatible server that returns prompt logprobs."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    with serve(model, AutoTokenizer.from_pretrained(tiny_model_dir), name=ENDPOINT_MODEL) as url:
        yield url


def test_endpoint_scores_multiple_choice_with_the_same_logprobs_as_the_local_model(
        endpoint_url: str, tiny_model_dir: Path, evalkit_home: Path) -> None:
    entries = [SuiteEntry(task=ARC, limit=2)]
    remote = score(f"openai:{ENDPOINT_MODEL}@{endpoint_url}", entries, ScoreOptions())
    local = score(str(tiny_model_dir), entries, ScoreOptions())
    assert (remote.checkpoint.kind, remote.checkpoint.backend, remote.checkpoint.dtype) == (
        "openai", "openai", "remote")
    assert [metric.n for metric in remote.tasks[0].metrics] == [2, 2]
    remote_rows, local_rows = _task_rows(remote, ARC), _task_rows(local, ARC)
    assert [row["item_id"] for row in remote_rows] == [row["item_id"] for row in local_rows]
    for remote_row, local_row in zip(remote_rows, local_rows, strict=True):
        assert remote_row["logprobs"] == pytest.approx(local_row["logprobs"], abs=1e-3)
        assert remote_row["prediction"] == local_row["prediction"]


def test_endpoint_scores_a_generation_task(endpoint_url: str, evalkit_home: Path) -> None:
    entries = [SuiteEntry(task=GSM8K, limit=1, gen_kwargs={"max_gen_toks": MAX_GEN_TOKS})]
    scorecard = score(f"openai:{ENDPOINT_MODEL}@{endpoint_url}", entries, ScoreOptions())
    assert {(metric.name, metric.filter, metric.n) for metric in scorecard.tasks[0].metrics} == {
        ("exact_match", "strict-match", 1), ("exact_match", "flexible-extract", 1)}
    rows = [row for row in _task_rows(scorecard, GSM8K) if row["metric"] == "exact_match"]
    assert len(rows) == 2 and all(isinstance(row["prediction"], str) for row in rows)
    assert store.get_run(scorecard.run_id).status == "finished"
