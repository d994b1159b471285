"""The run store (ids, lookup, atomic writes), the Markdown and HTML reports, ``compare``, and the CLI commands
that read the store (``runs list``, ``runs show``, ``report``, ``compare``) or describe evalkit (``schema``,
``tasks``, ``--version``, ``--help``), plus ``score --json``.

Stored runs here are small hand-written scorecards with known numbers, so every expected value is exact.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evalkit import __version__, store
from evalkit.atomic import write_bytes_atomic, write_text_atomic
from evalkit.cli import app
from evalkit.compare import compare
from evalkit.environment import capture_environment
from evalkit.errors import RunNotFoundError
from evalkit.report import plot_png, to_html, to_markdown
from evalkit.scorecard import CheckpointInfo, Metric, Scorecard, TaskResult, TaskSettings
from evalkit.suites import builtin_suite_names
from evalkit.tasks_resolve import bundled_task_names

Values = dict[tuple[str, str, str], tuple[float, float | None]]

VALUES_A: Values = {
    ("evalkit_arc_easy", "acc", "none"): (0.5, 0.1),
    ("evalkit_arc_easy", "acc_norm", "none"): (0.25, 0.05),
    ("evalkit_gsm8k", "exact_match", "strict-match"): (0.125, None),
    ("evalkit_boolq", "acc", "none"): (0.75, 0.02),
}
VALUES_B: Values = {
    ("evalkit_arc_easy", "acc", "none"): (0.7, 0.2),
    ("evalkit_arc_easy", "acc_norm", "none"): (0.2, 0.05),
    ("evalkit_gsm8k", "exact_match", "strict-match"): (0.25, 0.1),
    ("evalkit_piqa", "acc", "none"): (0.6, 0.1),
}


def _scorecard(run_id: str, folder: Path, values: Values, spec: str) -> Scorecard:
    tasks: dict[str, list[Metric]] = {}
    for (task, name, filter_name), (value, stderr) in values.items():
        tasks.setdefault(task, []).append(Metric(name=name, filter=filter_name, value=value, stderr=stderr, n=20))
    settings = TaskSettings(num_fewshot=0, limit=20, seed=1234, apply_chat_template=False)
    return Scorecard(
        run_id=run_id, created_at=datetime.now(UTC), suite="quick",
        checkpoint=CheckpointInfo(spec=spec, kind="hf_dir", fingerprint="sha256:" + "ab" * 32, dtype="float32",
                                  backend="hf"),
        environment=capture_environment("cpu"),
        tasks=[TaskResult(name=task, version="1.0", output_type="multiple_choice", data_sha256="0" * 64,
                          prompt_sha256="1" * 64, settings=settings, metrics=metrics, seconds=1.0)
               for task, metrics in tasks.items()],
        timings={"total": 2.0}, items_path=str(folder / "items.jsonl"),
    )


def _stored_run(spec: str, values: Values = VALUES_A, *, status: str = "finished") -> Scorecard:
    """Index a run, save its scorecard, and mark it ``status`` (the way ``evalkit score`` does)."""
    run_id = store.new_run_id(spec)
    folder = store.start_run(run_id, spec, "sha256:" + "ab" * 32, "quick")
    scorecard = _scorecard(run_id, folder, values, spec)
    if status == "finished":
        scorecard.save(folder / "scorecard.json")
    store.finish_run(run_id, status)
    return scorecard


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``evalkit`` console entry point in a subprocess against the test's EVALKIT_HOME."""
    return subprocess.run([sys.executable, "-c", "from evalkit.cli import run; run()", *args],
                          check=False, capture_output=True, text=True, env=dict(os.environ), timeout=300)


def test_new_run_id_has_utc_time_model_name_and_random_suffix() -> None:
    run_id = store.new_run_id("/models/My_Model.v2/")
    assert re.fullmatch(r"\d{8}-\d{6}-My-Model-v2-[0-9a-f]{6}", run_id)
    stamped = datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    assert abs((stamped - datetime.now(UTC)).total_seconds()) < 60


def test_new_run_ids_are_unique_for_the_same_spec_in_the_same_second() -> None:
    assert len({store.new_run_id("smollm2") for _ in range(300)}) == 300


def test_get_run_finds_a_run_by_its_full_id(evalkit_home: Path) -> None:
    first = _stored_run("model-a")
    _stored_run("model-b")
    record = store.get_run(first.run_id)
    assert (record.run_id, record.spec, record.status) == (first.run_id, "model-a", "finished")
    assert record.path == evalkit_home / "runs" / first.run_id


def test_get_run_finds_a_run_by_a_unique_prefix(evalkit_home: Path) -> None:
    first = _stored_run("model-a")
    _stored_run("model-b")
    assert store.get_run(first.run_id[:-3]).run_id == first.run_id


def test_get_run_latest_is_the_newest_finished_run(evalkit_home: Path) -> None:
    _stored_run("model-a")
    newest_finished = _stored_run("model-b")
    _stored_run("model-c", status="failed")
    assert store.get_run("latest").run_id == newest_finished.run_id


def test_get_run_with_an_ambiguous_prefix_raises_naming_the_count(evalkit_home: Path) -> None:
    first = _stored_run("model-a")
    _stored_run("model-b")
    with pytest.raises(RunNotFoundError, match="matches 2 runs"):
        store.get_run(first.run_id[:8])


def test_get_run_with_an_unknown_id_raises(evalkit_home: Path) -> None:
    _stored_run("model-a")
    with pytest.raises(RunNotFoundError, match="no finished run 'nope'"):
        store.get_run("nope")


def test_get_run_does_not_find_unfinished_runs(evalkit_home: Path) -> None:
    failed = _stored_run("model-a", status="failed")
    with pytest.raises(RunNotFoundError):
        store.get_run(failed.run_id)
    with pytest.raises(RunNotFoundError):
        store.get_run("latest")


def test_list_runs_is_newest_first_and_hides_unfinished_runs_unless_asked(evalkit_home: Path) -> None:
    older, newer = _stored_run("model-a"), _stored_run("model-b")
    failed = _stored_run("model-c", status="failed")
    assert [record.run_id for record in store.list_runs()] == [newer.run_id, older.run_id]
    assert [record.run_id for record in store.list_runs(include_unfinished=True)] == [
        failed.run_id, newer.run_id, older.run_id]


def test_atomic_write_replaces_the_file_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "scorecard.json"
    write_text_atomic(target, "first")
    write_text_atomic(target, "second")
    assert target.read_text() == "second"
    assert [path.name for path in target.parent.iterdir()] == ["scorecard.json"]


def test_atomic_write_that_fails_keeps_the_old_file_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "scorecard.json"
    write_text_atomic(target, "complete")
    with pytest.raises(TypeError):
        write_bytes_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "complete"
    assert [path.name for path in tmp_path.iterdir()] == ["scorecard.json"]


def test_markdown_report_has_a_row_for_every_task_metric_and_filter(tmp_path: Path) -> None:
    markdown = to_markdown(_scorecard("run-a", tmp_path, VALUES_A, "model-a"))
    for (task, metric, filter_name), (value, stderr) in VALUES_A.items():
        stderr_text = "n/a" if stderr is None else f"{stderr:.4f}"
        assert f"| {task} | {metric} | {filter_name} | {value:.4f} | {stderr_text} | 20 |" in markdown


def test_html_report_has_every_task_and_metric_and_embeds_a_png(tmp_path: Path) -> None:
    scorecard = _scorecard("run-a", tmp_path, VALUES_A, "model-a")
    page = to_html(scorecard, plot_png(scorecard))
    for (task, metric, filter_name), (value, _) in VALUES_A.items():
        assert f"<td>{task}</td><td>{metric}</td><td>{filter_name}</td><td>{value:.4f}</td>" in page
    [image] = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n")


def test_compare_gives_b_minus_a_and_the_combined_stderr(tmp_path: Path) -> None:
    deltas = {(d.task, d.metric, d.filter): d for d in compare(_scorecard("a", tmp_path, VALUES_A, "a"),
                                                               _scorecard("b", tmp_path, VALUES_B, "b"))}
    assert set(deltas) == set(VALUES_A) | set(VALUES_B)
    arc_acc = deltas[("evalkit_arc_easy", "acc", "none")]
    assert (arc_acc.value_a, arc_acc.value_b) == (0.5, 0.7)
    assert arc_acc.delta == pytest.approx(0.2) and arc_acc.delta_stderr == pytest.approx(math.sqrt(0.1**2 + 0.2**2))
    assert deltas[("evalkit_arc_easy", "acc_norm", "none")].delta == pytest.approx(-0.05)
    gsm8k = deltas[("evalkit_gsm8k", "exact_match", "strict-match")]
    assert gsm8k.delta == pytest.approx(0.125) and gsm8k.delta_stderr is None
    only_a, only_b = deltas[("evalkit_boolq", "acc", "none")], deltas[("evalkit_piqa", "acc", "none")]
    assert (only_a.value_b, only_a.delta, only_b.value_a, only_b.delta) == (None, None, None, None)


def test_cli_runs_list_shows_finished_runs_and_all_runs_with_all(evalkit_home: Path) -> None:
    finished = _stored_run("model-a")
    failed = _stored_run("model-b", status="failed")
    table = _cli("runs", "list")
    assert table.returncode == 0 and finished.run_id in table.stdout and failed.run_id not in table.stdout
    listed = json.loads(_cli("runs", "list", "--all", "--json").stdout)
    assert [(row["run_id"], row["status"]) for row in listed] == [(failed.run_id, "failed"),
                                                                  (finished.run_id, "finished")]


def test_cli_runs_show_prints_the_scorecard_and_its_folder(evalkit_home: Path) -> None:
    stored = _stored_run("model-a")
    shown = _cli("runs", "show", stored.run_id[:-3])
    assert shown.returncode == 0
    assert all(task in shown.stdout for task in ("evalkit_arc_easy", "evalkit_gsm8k", "evalkit_boolq"))
    assert str(evalkit_home / "runs" / stored.run_id) in shown.stdout.replace("\n", "")
    assert Scorecard.model_validate_json(_cli("runs", "show", "latest", "--json").stdout) == stored


def test_cli_runs_show_of_an_unknown_run_exits_2_with_one_error_line(evalkit_home: Path) -> None:
    _stored_run("model-a")
    shown = _cli("runs", "show", "nope")
    assert shown.returncode == 2 and shown.stdout == ""
    assert shown.stderr.startswith("error: no finished run 'nope'") and len(shown.stderr.splitlines()) == 1


@pytest.mark.parametrize("format_name", ["md", "html", "json"])
def test_cli_report_prints_the_stored_run_in_each_format(evalkit_home: Path, format_name: str) -> None:
    stored = _stored_run("model-a")
    printed = _cli("report", stored.run_id, "--format", format_name)
    assert printed.returncode == 0
    if format_name == "md":
        assert printed.stdout == to_markdown(stored)
    elif format_name == "html":
        assert printed.stdout.startswith("<!doctype html>") and "data:image/png;base64," in printed.stdout
        assert all(f"<td>{task}</td>" in printed.stdout for task, _, _ in VALUES_A)
    else:
        assert Scorecard.model_validate_json(printed.stdout) == stored


def test_cli_report_with_an_unknown_format_exits_2(evalkit_home: Path) -> None:
    stored = _stored_run("model-a")
    printed = _cli("report", stored.run_id, "--format", "pdf")
    assert printed.returncode == 2 and printed.stdout == ""
    assert printed.stderr.startswith("error: --format 'pdf'") and len(printed.stderr.splitlines()) == 1


def test_cli_compare_prints_per_metric_deltas(evalkit_home: Path) -> None:
    run_a, run_b = _stored_run("model-a", VALUES_A), _stored_run("model-b", VALUES_B)
    table = _cli("compare", run_a.run_id, run_b.run_id)
    assert table.returncode == 0
    assert re.search(r"evalkit_arc_easy.*acc .*0\.5000.*0\.7000.*\+0\.2000", table.stdout)
    listed = json.loads(_cli("compare", run_a.run_id, run_b.run_id, "--json").stdout)
    assert {(row["task"], row["metric"], row["filter"]) for row in listed} == set(VALUES_A) | set(VALUES_B)
    assert [row["delta"] for row in listed if row["metric"] == "acc_norm"] == [pytest.approx(-0.05)]


def _refs(node: object) -> list[str]:
    """Every ``$ref`` in a JSON Schema document."""
    if isinstance(node, dict):
        own = [str(node["$ref"])] if "$ref" in node else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_cli_schema_prints_a_json_schema_with_every_scorecard_field() -> None:
    printed = _cli("schema")
    schema = json.loads(printed.stdout)
    assert printed.returncode == 0 and schema["type"] == "object" and schema["title"] == "Scorecard"
    assert set(schema["properties"]) == set(Scorecard.model_fields)
    assert {"run_id", "checkpoint", "environment", "tasks", "timings", "items_path"} <= set(schema["required"])
    refs = _refs(schema)
    assert "#/$defs/Metric" in _refs(schema["$defs"]["TaskResult"])
    assert all(ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in schema["$defs"] for ref in refs)


def test_cli_tasks_lists_every_bundled_task_and_suite() -> None:
    printed = _cli("tasks")
    assert printed.returncode == 0
    assert len(bundled_task_names()) >= 18 and all(name in printed.stdout for name in bundled_task_names())
    assert {"quick", "standard", "full"} <= set(builtin_suite_names())
    assert all(f"  {name}:" in printed.stdout for name in builtin_suite_names())


def test_cli_version_prints_the_package_version() -> None:
    printed = _cli("--version")
    assert (printed.returncode, printed.stdout) == (0, f"evalkit {__version__}\n")


def test_cli_help_lists_every_command_with_its_one_line_summary() -> None:
    printed = _cli("--help")
    commands = {command.name or command.callback.__name__: command.callback.__doc__
                for command in app.registered_commands}
    commands |= {group.name: group.typer_instance.info.help for group in app.registered_groups}
    assert set(commands) == {"score", "runs", "report", "compare", "schema", "tasks", "gate", "guard", "registry",
                             "monitor", "data", "tune", "rag", "dashboard"}
    for name, doc in commands.items():
        summary = str(doc).strip().splitlines()[0]
        assert re.search(rf"{name}\s+{re.escape(summary)}", printed.stdout), name


def test_cli_score_json_prints_only_the_scorecard_on_stdout(tiny_model_dir: Path, evalkit_home: Path) -> None:
    printed = _cli("score", str(tiny_model_dir), "--tasks", "evalkit_arc_easy", "--limit", "2", "--json")
    assert printed.returncode == 0
    scorecard = Scorecard.model_validate(json.loads(printed.stdout))
    assert scorecard.metric("evalkit_arc_easy", "acc").n == 2
    assert store.load_scorecard("latest") == scorecard
