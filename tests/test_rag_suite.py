"""The rag suite: bundled corpus and questions (consistent ids, every topic covered), the suite block and how
suites combine, and the end-to-end task on a tiny model (retrieval, generation, metrics, scorecard, items)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.errors import CheckpointError, TaskError
from evalkit.gate.paths import known_metric_paths
from evalkit.items import read_items
from evalkit.rag import RagSettings, load_corpus, load_questions
from evalkit.report import to_markdown
from evalkit.score import ScoreOptions, score
from evalkit.scorecard import Scorecard
from evalkit.store import list_runs
from evalkit.suites import Suite, combine_suites, load_suite

LIMIT = 4


def test_every_question_has_a_reference_and_supporting_chunks_that_exist() -> None:
    corpus, questions = load_corpus(), load_questions()
    ids = [chunk.chunk_id for chunk in corpus]
    assert len(questions) >= 40 and len(ids) == len(set(ids)) >= 40
    assert len({question.id for question in questions}) == len(questions)
    assert all(question.reference and question.chunk_ids and set(question.chunk_ids) <= set(ids)
               for question in questions)
    topics = {chunk_id.split("-")[0] for chunk_id in ids}
    assert topics == {chunk_id.split("-")[0] for question in questions for chunk_id in question.chunk_ids}


def test_a_limit_keeps_every_topic() -> None:
    topics = {question.chunk_ids[0].split("-")[0] for question in load_questions(12)}
    assert len(topics) == 6


def test_the_rag_suite_defaults_to_metrics_without_a_judge_and_combines_with_others() -> None:
    suite = load_suite("rag")
    assert suite.rag is not None and suite.rag.metrics is None and suite.rag.judge is None and suite.tasks == []
    combined = load_suite("quick,rag")
    assert combined.rag == suite.rag and len(combined.tasks) == 18
    with pytest.raises(TaskError, match="each have a rag block"):
        combine_suites([suite, suite])


def test_an_unknown_metric_in_a_rag_block_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown RAG metric.*faithfulness"):
        Suite.model_validate({"name": "x", "rag": {"metrics": ["faithfullness"]}})


@pytest.fixture(scope="module")
def rag_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Scorecard:
    home = tmp_path_factory.mktemp("rag-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVALKIT_HOME", str(home))
        return score(str(tiny_model_dir), [], ScoreOptions(), suite="rag",
                     rag=RagSettings(limit=LIMIT, max_new_tokens=8))


def test_the_bundled_task_retrieves_answers_and_scores_every_default_metric(rag_run: Scorecard) -> None:
    rag = rag_run.rag
    assert rag is not None and rag.source == "bundled" and rag.items == LIMIT and rag.judge is None
    assert rag.retrieval == {"top_k": 3, "corpus_chunks": 48, "embedder": "minilm"}
    names = [metric.name for metric in rag.metrics]
    assert names == ["non_llm_context_precision", "non_llm_context_recall", "string_similarity", "context_relevance",
                     "completeness", "chunk_attribution", "chunk_utilization", "hit_rate", "recall_at_k", "mrr"]
    assert all(metric.n + metric.skipped == LIMIT and metric.judge_failures == 0 for metric in rag.metrics)
    assert all(metric.stderr is not None for metric in rag.metrics if metric.n > 1)
    (task,) = rag.tasks
    assert task.name == "rag_bundled" and task.settings.gen_kwargs == {"max_gen_toks": 8}
    assert [metric.value for metric in task.metrics] == [metric.value for metric in rag.metrics]


def test_bundled_items_carry_the_question_answer_and_retrieved_ids(rag_run: Scorecard) -> None:
    rows = [row for row in read_items(Path(rag_run.items_path)) if row["metric"] == "hit_rate"]
    assert len(rows) == LIMIT and all(len(row["chunk_ids"]) == 3 and row["question"] for row in rows)
    assert "rag.mrr" in known_metric_paths(rag_run) and "rag_bundled.completeness" in known_metric_paths(rag_run)
    assert "## RAG (bundled, 4 items, no judge, embedder minilm)" in to_markdown(rag_run)


def test_a_judge_that_cannot_be_resolved_fails_before_anything_is_recorded(tiny_model_dir: Path,
                                                                           evalkit_home: Path) -> None:
    with pytest.raises(CheckpointError):
        score(str(tiny_model_dir), [], ScoreOptions(), suite="rag",
              rag=RagSettings(limit=1, judge=str(evalkit_home / "no-such-judge")))
    assert list_runs(include_unfinished=True) == []


def test_judge_without_a_rag_suite_is_one_error_line(evalkit_home: Path) -> None:
    result = subprocess.run([sys.executable, "-c", "from evalkit.cli import run; run()", "score", "smollm2",
                             "--tasks", "evalkit_arc_easy", "--judge", "smollm2"], check=False, capture_output=True,
                            text=True, env={"EVALKIT_HOME": str(evalkit_home), "PATH": ""}, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: --judge judges the rag suite")


def test_the_example_rag_policy_names_the_rag_suite_and_rag_paths() -> None:
    from evalkit.gate import load_policy

    policy = load_policy(Path(__file__).resolve().parents[1] / "examples" / "rag" / "policy.yaml")
    assert policy.suite is not None and policy.suite.rag is not None
    assert all(check.metric.startswith("rag.") for check in policy.policy.checks)  # type: ignore[union-attr]
