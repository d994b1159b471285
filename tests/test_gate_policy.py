"""Policy YAML validation: every mistake is one GateError that names the file, the field and the fix; the shipped
example policies are valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.errors import GateError, TaskError
from evalkit.gate import AbsoluteCheck, RelativeCheck, TasksPresentCheck, load_policy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "policies"
GOOD_CHECK = "  - {name: floor, kind: absolute, metric: evalkit_arc_easy.acc, op: '>=', value: 0.3}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(GateError) as raised:
        load_policy(write(tmp_path, text))
    message = str(raised.value)
    assert message.startswith(f"policy {tmp_path / 'policy.yaml'} ") and "\n" not in message
    return message


def test_policy_with_every_check_kind_loads_with_defaults(tmp_path: Path) -> None:
    loaded = load_policy(write(tmp_path, "name: p\nchecks:\n" + GOOD_CHECK
                               + "  - {name: drop, kind: relative, metric: evalkit_arc_easy.acc, max_drop: 0.01}\n"
                               + "  - {name: present, kind: tasks_present}\n"))
    policy = loaded.policy
    assert [type(check) for check in policy.checks] == [AbsoluteCheck, RelativeCheck, TasksPresentCheck]
    assert (policy.confidence, policy.holm, policy.on_inconclusive) == (0.95, False, "block")
    assert all(check.severity == "block" for check in policy.checks)
    assert len(loaded.sha256) == 64 and loaded.expected_tasks() == ("evalkit_arc_easy",)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    message = error_for(tmp_path, "name: p\nchecks:\n  - {name: x, kind: absolute\n")
    assert "is not valid YAML at line" in message and "fix its syntax" in message


def test_policy_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    assert "is not a mapping" in error_for(tmp_path, "- just\n- a list\n")


def test_missing_kind_names_the_check_and_the_kinds(tmp_path: Path) -> None:
    message = error_for(tmp_path, "name: p\nchecks:\n  - {name: floor, metric: a.acc, op: '>=', value: 1}\n")
    assert "invalid at checks[0] (floor): missing kind: give kind: one of absolute, relative, tasks_present" in message


def test_unknown_kind_is_named(tmp_path: Path) -> None:
    message = error_for(tmp_path, "name: p\nchecks:\n" + GOOD_CHECK + "  - {name: vibes, kind: vibes}\n")
    assert ("checks[1] (vibes): unknown kind 'vibes': use one of absolute, relative, tasks_present, curve, "
            "drift") in message


def test_negative_max_drop_names_the_field(tmp_path: Path) -> None:
    message = error_for(tmp_path, "name: p\nchecks:\n  - {name: d, kind: relative, metric: t.acc, max_drop: -1}\n")
    assert "invalid at checks[0] (d).max_drop: Input should be greater than or equal to 0" in message


def test_unknown_operator_names_the_allowed_ones(tmp_path: Path) -> None:
    message = error_for(tmp_path, "name: p\nchecks:\n  - {name: f, kind: absolute, metric: t.acc, op: '=>', value: 1}\n")
    assert "checks[0] (f).op: Input should be '>=' or '<='" in message


def test_misspelled_field_is_reported_as_unknown(tmp_path: Path) -> None:
    message = error_for(tmp_path, "name: p\nchecks:\n  - {name: d, kind: relative, metric: t.acc, maxdrop: 0.1}\n")
    assert "checks[0] (d).max_drop: required field missing (and 1 more)" in message
    message = error_for(tmp_path, "name: p\nconfidance: 0.9\nchecks:\n" + GOOD_CHECK)
    assert "invalid at confidance: unknown field" in message


def test_metric_that_is_not_a_path_is_rejected(tmp_path: Path) -> None:
    message = error_for(tmp_path, "name: p\nchecks:\n  - {name: f, kind: absolute, metric: acc, op: '>=', value: 1}\n")
    assert "checks[0] (f).metric: 'acc' is not a metric path: write <task>.<metric>" in message


def test_relative_check_on_a_seed_metric_is_rejected(tmp_path: Path) -> None:
    message = error_for(tmp_path, "name: p\nchecks:\n  - {name: r, kind: relative, metric: perplexity, max_drop: 1}\n")
    assert "'perplexity' is a seed metric" in message and "use an absolute check" in message


def test_duplicate_check_names_are_rejected(tmp_path: Path) -> None:
    assert "two checks are named 'floor'" in error_for(tmp_path, "name: p\nchecks:\n" + GOOD_CHECK * 2)


@pytest.mark.parametrize(("line", "fragment"), [
    ("confidence: 1.5", "invalid at confidence: Input should be less than 1"),
    ("on_inconclusive: ignore", "invalid at on_inconclusive: Input should be 'block' or 'warn'"),
    ("checks: []", "invalid at checks: List should have at least 1 item"),
])
def test_bad_policy_settings_name_the_field(tmp_path: Path, line: str, fragment: str) -> None:
    text = f"name: p\n{line}\n" + ("" if line.startswith("checks") else "checks:\n" + GOOD_CHECK)
    assert fragment in error_for(tmp_path, text)


def test_missing_policy_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GateError, match="cannot read policy .*check the path"):
        load_policy(tmp_path / "nope.yaml")


def test_unknown_suite_is_a_task_error(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="unknown suite 'quik': did you mean quick"):
        load_policy(write(tmp_path, "name: p\nsuite: quik\nchecks:\n" + GOOD_CHECK))


def test_suite_yaml_path_is_relative_to_the_policy_and_task_yaml_entries_give_their_task_names(
        tmp_path: Path) -> None:
    (tmp_path / "my_task.yaml").write_text("task: my_task\ncustom_dataset: !function utils.load\n", encoding="utf-8")
    (tmp_path / "suite.yaml").write_text(f"name: mine\ntasks:\n  - evalkit_boolq\n  - {tmp_path / 'my_task.yaml'}\n",
                                         encoding="utf-8")
    loaded = load_policy(write(tmp_path, "name: p\nsuite: suite.yaml\nchecks:\n" + GOOD_CHECK))
    assert loaded.suite is not None and loaded.suite.name == "mine"
    assert loaded.expected_tasks() == ("evalkit_boolq", "my_task")
