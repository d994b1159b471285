"""``evalkit rag score`` on a traces file: validation with one-line errors, a stored run whose ``rag`` section and
``items.jsonl`` the report and the gate read, and gate checks on unreliable metrics ending inconclusive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.gate import load_policy, load_run, run_gate
from evalkit.gate.paths import known_metric_paths
from evalkit.items import read_items
from evalkit.rag import RagError, RagSettings, read_traces, score_traces
from evalkit.report import to_markdown
from evalkit.store import list_runs

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rag" / "traces.jsonl"


def evalkit(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "EVALKIT_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", "from evalkit.cli import run; run()", *args], check=False,
                          capture_output=True, text=True, env=environment, timeout=300)


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("line", "message"), [
    ('{"question": "q", "contexts": ["c"]}', "line 2: missing field 'answer'"),
    ('{"question": "q", "contexts": "c", "answer": "a"}', "line 2: field 'contexts': Input should be a valid list"),
    ('{"question": "q", "contexts": [{"chunk_id": "x"}], "answer": "a"}', "line 2: missing field 'contexts[0].text'"),
    ("not json", "line 2 is not JSON"),
    ('{"question": "q", "contexts": [], "answer": "a"}', "line 2: field 'contexts': List should have at least 1 item"),
])
def test_a_bad_trace_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "traces.jsonl", '{"question": "q", "contexts": ["c"], "answer": "a"}', line)
    with pytest.raises(RagError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_traces(path)


def test_trace_ids_default_to_a_hash_of_question_and_reference(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", '{"question": "q", "contexts": ["c"], "answer": "a", "reference": "r"}',
                 '{"question": "q", "contexts": ["d"], "answer": "b", "reference": "s", "extra": 1}')
    first, second = read_traces(path)
    assert first.id != second.id and len(first.id) == 16 and first.retrieved_ids is None


def test_a_repeated_trace_id_is_named_with_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", '{"id": "q1", "question": "q", "contexts": ["c"], "answer": "a"}',
                 '{"question": "other", "contexts": ["c"], "answer": "a"}',
                 '{"id": "q1", "question": "q2", "contexts": ["c"], "answer": "b"}')
    with pytest.raises(RagError, match="line 3 repeats id 'q1' of line 1"):
        read_traces(path)


def test_the_cli_scores_traces_into_a_stored_run_with_a_report(evalkit_home: Path) -> None:
    result = evalkit(evalkit_home, "rag", "score", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    scorecard = json.loads(result.stdout)
    metrics = {metric["name"]: metric for metric in scorecard["rag"]["metrics"]}
    assert {"completeness", "chunk_attribution", "chunk_utilization", "context_relevance", "hit_rate", "mrr",
            "recall_at_k", "string_similarity", "non_llm_context_recall"} <= set(metrics)
    assert not any(metric["family"] == "ragas-llm" for metric in metrics.values())  # no judge given
    assert metrics["hit_rate"]["n"] == 5 and metrics["hit_rate"]["skipped"] == 1  # one trace has no chunk ids
    assert scorecard["checkpoint"]["kind"] == "traces" and scorecard["tasks"] == []
    report = evalkit(evalkit_home, "report", "latest")
    assert "## RAG (" in report.stdout and "| completeness | evalkit |" in report.stdout


def test_rows_with_recoverable_problems_are_listed_with_their_line_numbers(evalkit_home: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl",
                 '{"id": "ok", "question": "q", "contexts": [{"text": "c", "chunk_id": "a"}], "answer": "a", '
                 '"reference": "r", "reference_chunk_ids": ["a"]}',
                 "",
                 '{"id": "partial", "question": "q2", "contexts": [{"text": "c", "chunk_id": "a"}, " "], '
                 '"answer": "b", "reference": "r", "reference_chunk_ids": ["a"]}',
                 '{"id": "bare", "question": "q3", "contexts": ["c"], "answer": "c"}')
    scorecard = score_traces(path, RagSettings(metrics=["hit_rate", "completeness", "string_similarity"]))
    problems = [(problem.line, problem.id, problem.problem, problem.metrics) for problem in scorecard.rag.problems]
    assert problems == [
        (3, "partial", "no chunk_id on retrieved chunk(s) 2", ["hit_rate"]),
        (3, "partial", "blank retrieved chunk(s) 2", ["completeness"]),
        (4, "bare", "no chunk ids", ["hit_rate"]),
        (4, "bare", "no reference", ["completeness", "string_similarity"]),
    ]
    assert "| 4 | bare | no reference | completeness, string_similarity |" in to_markdown(scorecard)
    printed = evalkit(evalkit_home, "rag", "score", str(path), "--metrics", "hit_rate")
    assert printed.returncode == 0, printed.stderr
    assert "rag rows with problems" in printed.stdout and "no chunk_id on retrieved chunk(s) 2" in printed.stdout


def test_an_unknown_metric_is_one_error_line_listing_the_known_ones_and_records_nothing(evalkit_home: Path) -> None:
    result = evalkit(evalkit_home, "rag", "score", str(EXAMPLE), "--metrics", "completeness,faithfullness")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "faithfullness" in result.stderr and "answer_relevancy" in result.stderr
    assert list_runs(include_unfinished=True) == []


def test_a_missing_traces_file_is_one_error_line(evalkit_home: Path, tmp_path: Path) -> None:
    result = evalkit(evalkit_home, "rag", "score", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2 and result.stderr.startswith("error: cannot read traces file")


def test_items_reproduce_each_metric_and_exclusions_are_rows_with_a_reason(evalkit_home: Path) -> None:
    scorecard = score_traces(EXAMPLE, RagSettings())
    assert scorecard.rag is not None
    rows = read_items(Path(scorecard.items_path))
    for metric in scorecard.rag.metrics:
        scored = [row["score"] for row in rows if row["metric"] == metric.name and row["filter"] == "none"]
        assert len(scored) == metric.n and metric.value == pytest.approx(sum(scored) / len(scored))
        excluded = [row for row in rows if row["metric"] == metric.name and row["filter"] == "excluded"]
        assert len(excluded) == metric.skipped + metric.judge_failures and all(row["reason"] for row in excluded)


def policy(tmp_path: Path, checks: str) -> Path:
    return write(tmp_path / "policy.yaml", "name: rag-gate", "checks:", checks)


def test_the_gate_reads_rag_paths_and_pairs_rag_items(evalkit_home: Path, tmp_path: Path) -> None:
    first = score_traces(EXAMPLE, RagSettings())
    second = score_traces(EXAMPLE, RagSettings())
    assert "rag.completeness" in known_metric_paths(first) and "rag_traces.completeness" in known_metric_paths(first)
    checks = ('  - {name: floor, kind: absolute, metric: rag.completeness, op: ">=", value: 0.3}\n'
              "  - {name: same, kind: relative, metric: rag_traces.context_relevance, max_drop: 0.05}")
    result = run_gate(load_policy(policy(tmp_path, checks)), load_run(first.run_id), load_run(second.run_id))
    assert [check.verdict for check in result.checks] == ["pass", "inconclusive"]  # 6 items: too few to bootstrap
    assert result.checks[0].evidence.n == 5


def test_a_check_on_an_unreliable_metric_is_inconclusive(evalkit_home: Path, tmp_path: Path,
                                                         tiny_model_dir: Path) -> None:
    scorecard = score_traces(EXAMPLE, RagSettings(metrics=["faithfulness"], judge=str(tiny_model_dir),
                                                  judge_max_new_tokens=8), label="tiny-judged")
    assert scorecard.rag is not None and not scorecard.rag.metrics[0].reliable
    checks = '  - {name: faithful, kind: absolute, metric: rag.faithfulness, op: ">=", value: 0.5}'
    result = run_gate(load_policy(policy(tmp_path, checks)), load_run(scorecard.run_id), None)
    check = result.checks[0]
    assert check.verdict == "inconclusive" and "judge failed on 6 of 6 items" in check.reason and result.verdict == \
        "fail"  # inconclusive blocks by default: the gate fails closed
    assert "RAG (" in to_markdown(scorecard) and "| faithfulness | ragas-llm |" in to_markdown(scorecard)


def test_an_unknown_embedder_is_one_error_line_and_records_nothing(evalkit_home: Path, tmp_path: Path) -> None:
    result = evalkit(evalkit_home, "rag", "score", str(EXAMPLE), "--embedder", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "is neither 'minilm' nor a sentence-transformers folder" in result.stderr
    assert list_runs(include_unfinished=True) == []
