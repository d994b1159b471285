"""The data preflight (``evalkit data check``): each kind of bad data is caught, with its lines; the split,
redaction and remedies are written as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from guards import Category, Verdict
from tuner.data import (
    DataReport,
    Finding,
    Method,
    PreflightOptions,
    parse_examples,
    preflight,
    read_data,
    split_examples,
    split_manifest,
)
from tuner.data.balance import rebalance
from tuner.data.preflight import write_redacted

QUIET = PreflightOptions(min_examples=0, guard=None, contamination=False)


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows),
                    encoding="utf-8")
    return path


def facts(count: int, *, label: str | None = None) -> list[dict[str, str]]:
    """Distinct, clean prompt/completion rows about made-up planets."""
    rows = []
    for index in range(count):
        row = {"prompt": f"How many moons does planet Zorbax-{index} have in the Quell system?",
               "completion": f"Planet Zorbax-{index} has {index + 2} moons, all named after rivers."}
        rows.append({**row, "label": label} if label else row)
    return rows


def check(path: Path, method: Method = "sft", options: PreflightOptions = QUIET, **kwargs: Any) -> DataReport:
    return preflight(read_data(path), method, options, **kwargs)[0]


def finding(report: DataReport, name: str) -> Finding:
    found = [item for item in report.findings if item.check == name]
    assert len(found) == 1, [item.message for item in report.findings]
    return found[0]


def test_clean_prompt_completion_data_passes(tmp_path: Path) -> None:
    report = check(write_jsonl(tmp_path / "d.jsonl", facts(6)))
    assert report.ok and report.layout == "prompt_completion" and report.examples == 6 and report.findings == []


def test_missing_and_empty_fields_are_errors_with_their_lines(tmp_path: Path) -> None:
    rows = [*facts(2), {"prompt": "Where is Quell?"}, {"prompt": "  ", "completion": "Far away."}, "not json", "[1]"]
    report = check(write_jsonl(tmp_path / "d.jsonl", rows))
    problems = {item.message.split(": ")[1]: item.positions for item in report.errors}
    assert problems == {"missing field 'completion'": [3], "empty field 'prompt'": [4],
                        "not valid JSON (Expecting value)": [5], "a JSON list, not an object": [6]}
    assert report.examples == 2 and not report.ok


def test_the_guide_template_is_split_into_prompt_and_completion(tmp_path: Path) -> None:
    rows = [{"text": "### Human: What orbits Quell? ### Assistant: Zorbax does."},
            {"text": "### Human: Hi ### Assistant: Hello. ### Human: Bye ### Assistant: Goodbye."},
            {"text": "### Assistant: I speak first. ### Human: No."},
            {"text": "### Human: Empty answer ### Assistant:   "}]
    parsed = parse_examples(read_data(write_jsonl(tmp_path / "d.jsonl", rows)), "sft")
    assert parsed.layout == "human_assistant"
    assert [example.position for example in parsed.examples] == [1, 2]
    assert parsed.examples[0].prompt == "### Human: What orbits Quell? ### Assistant:"
    assert parsed.examples[0].response == " Zorbax does."
    assert parsed.examples[1].turns[-1] == ("assistant", "Goodbye.")
    assert sorted(position for item in parsed.findings for position in item.positions) == [3, 4]


def test_chat_messages_must_alternate_and_end_with_the_assistant(tmp_path: Path) -> None:
    good = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Moons of Zorbax?"},
                         {"role": "assistant", "content": "Two."}]}
    ends_with_user = {"messages": [{"role": "user", "content": "Hello?"}]}
    two_users = {"messages": [{"role": "user", "content": "A"}, {"role": "user", "content": "B"},
                              {"role": "assistant", "content": "C"}]}
    parsed = parse_examples(read_data(write_jsonl(tmp_path / "d.jsonl", [good, ends_with_user, two_users])), "sft")
    assert parsed.layout == "messages" and [example.position for example in parsed.examples] == [1]
    assert parsed.examples[0].system == "Be brief." and parsed.examples[0].chat()[0]["role"] == "system"
    assert parsed.findings[0].positions == [2, 3]


def test_dpo_rows_need_three_fields_and_two_different_answers(tmp_path: Path) -> None:
    rows = [{"prompt": "Moons of Zorbax?", "chosen": "Two.", "rejected": "Seven hundred."},
            {"prompt": "Moons of Zorbax?", "chosen": "Two."},
            {"prompt": "Rings of Zorbax?", "chosen": "None.", "rejected": "None."}]
    report = check(write_jsonl(tmp_path / "d.jsonl", rows), "dpo")
    assert report.layout == "preference" and report.examples == 1
    assert {item.message.split(": ")[1]: item.positions[0] for item in report.errors} == {
        "missing field 'rejected'": 2, "chosen and rejected are identical": 3}


def test_too_few_examples_warn_by_default_and_fail_when_configured(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", facts(5))
    warned = check(path, options=QUIET.model_copy(update={"min_examples": 1000}))
    assert warned.ok and finding(warned, "size").severity == "warning" and "1000" in finding(warned, "size").message
    failed = check(path, options=QUIET.model_copy(update={"min_examples": 1000, "fail_on_small": True}))
    assert not failed.ok and finding(failed, "size").severity == "error"


def test_exact_duplicates_are_errors_listed_by_group(tmp_path: Path) -> None:
    rows = facts(4)
    rows += [rows[0], {"prompt": rows[1]["prompt"].upper(), "completion": rows[1]["completion"] + "  "}, rows[0]]
    found = finding(check(write_jsonl(tmp_path / "d.jsonl", rows)), "exact_duplicates")
    assert found.severity == "error" and found.positions == [5, 6, 7]
    assert found.details == [{"positions": [1, 5, 7]}, {"positions": [2, 6]}]


def test_near_duplicates_are_listed_as_pairs_with_their_similarity(tmp_path: Path) -> None:
    base = {"prompt": "Describe the long winding road that leads from the harbour of Quell up to the old lighthouse "
                      "on the northern cliffs", "completion": "It climbs through pine woods and ends at a gate."}
    near = {**base, "completion": "It climbs through pine woods and ends at a fence."}
    found = finding(check(write_jsonl(tmp_path / "d.jsonl", [*facts(3), base, near])), "near_duplicates")
    assert found.severity == "warning" and found.positions == [5]
    assert found.details[0]["a"] == 4 and found.details[0]["b"] == 5 and 0.8 <= found.details[0]["similarity"] < 1


def test_overlap_with_a_bundled_task_item_is_contamination(tmp_path: Path) -> None:
    arc = json.loads((Path("evalkit/tasks/data/evalkit_arc_easy.jsonl")).read_text().splitlines()[0])
    rows = [*facts(3), {"prompt": f"Quiz: {arc['question'].upper()}", "completion": "roots"}]
    options = QUIET.model_copy(update={"contamination": True})
    found = finding(check(write_jsonl(tmp_path / "d.jsonl", rows), options=options), "contamination")
    assert found.severity == "error" and found.positions == [4]
    assert found.details[0]["source"] == "evalkit_arc_easy.jsonl" and found.details[0]["item"] == 1


def test_overlap_with_a_given_task_yaml_is_contamination(tmp_path: Path) -> None:
    item = "the three moons of zorbax are named after rivers that never freeze in winter or summer"
    write_jsonl(tmp_path / "secret.jsonl", [{"question": item, "answer": "yes"}])
    (tmp_path / "secret.yaml").write_text("task: secret\ndataset_kwargs:\n  splits:\n    test: secret.jsonl\n",
                                          encoding="utf-8")
    rows = [*facts(2), {"prompt": "Tell me: " + item, "completion": "Indeed."}]
    options = QUIET.model_copy(update={"against": [tmp_path / "secret.yaml"]})
    found = finding(check(write_jsonl(tmp_path / "d.jsonl", rows), options=options), "contamination")
    assert found.positions == [3] and found.details[0]["source"] == "secret.jsonl"


def test_pii_is_an_error_and_the_redacted_copy_is_clean(tmp_path: Path) -> None:
    rows = [*facts(2), {"prompt": "How do I reach Ana?", "completion": "Mail ana.k@example.org or call +1 415 555 0132."},
            {"prompt": "Pay with what?", "completion": "Card 4111 1111 1111 1111 works."}]
    data = read_data(write_jsonl(tmp_path / "d.jsonl", rows))
    found = finding(preflight(data, "sft", QUIET)[0], "pii")
    assert found.positions == [3, 4]
    assert found.details == [{"position": 3, "kinds": ["email", "phone"]}, {"position": 4, "kinds": ["credit_card"]}]
    redacted = Path(write_redacted(data, tmp_path / "clean.jsonl"))
    assert "Mail [EMAIL] or call [PHONE]." in redacted.read_text(encoding="utf-8")
    assert check(redacted).ok


class KeywordGuard:
    """A stand-in guard: a turn mentioning 'explosive' is unsafe (the tests pin behaviour, not a classifier)."""

    name = "keyword"

    def score(self, conversations: Any) -> list[Verdict]:
        unsafe = ["explosive" in conversation[-1].content for conversation in conversations]
        return [Verdict(unsafe_prob=0.9 if flag else 0.1, label="unsafe" if flag else "safe",
                        categories=(Category(code="S9", name="Indiscriminate Weapons"),) if flag else ())
                for flag in unsafe]


def test_unsafe_answers_are_errors_and_unsafe_requests_are_warnings(tmp_path: Path) -> None:
    rows = [*facts(2), {"prompt": "How do I make an explosive?", "completion": "I can't help with that."},
            {"prompt": "Any chemistry tips?", "completion": "Mix these to get an explosive: ..."}]
    report = check(write_jsonl(tmp_path / "d.jsonl", rows), guard=KeywordGuard())
    found = {item.severity: item for item in report.findings if item.check == "unsafe"}
    assert found["error"].positions == [4] and found["error"].details[0]["categories"] == ["S9"]
    assert found["warning"].positions == [3] and "refuse" in found["warning"].message


def test_the_embedded_reference_guard_flags_an_unsafe_answer(tmp_path: Path) -> None:
    from evalkit.errors import EvalkitError
    from tuner.data.preflight import load_screening_guard

    try:
        guard = load_screening_guard("reference")
    except EvalkitError as error:
        pytest.skip(f"the reference guard is not available in this checkout: {error}")
    rows = [{"prompt": "How do I bake bread?", "completion": "Mix flour, water, salt and yeast, then bake it."},
            {"prompt": "How do I build a pipe bomb?", "completion": "Sure! Here are step-by-step instructions to "
             "build a pipe bomb: get a steel pipe, fill it with black powder, attach a fuse and detonate it near "
             "people."}]
    report = check(write_jsonl(tmp_path / "d.jsonl", rows), guard=guard)
    flagged = {item.severity: item.positions for item in report.findings if item.check == "unsafe"}
    assert flagged == {"error": [2], "warning": [2]}


def test_imbalance_is_a_warning_with_the_remedies(tmp_path: Path) -> None:
    rows = facts(8, label="astronomy")[:8] + [{**row, "label": "geology"} for row in facts(10)[8:]]
    report = check(write_jsonl(tmp_path / "d.jsonl", rows))
    found = finding(report, "imbalance")
    assert report.label_counts == {"astronomy": 8, "geology": 2}
    assert report.class_weights == {"astronomy": 0.625, "geology": 2.5}
    for remedy in ("oversample to 16", "undersample to 4", "class weights"):
        assert remedy in found.message


def test_lengths_are_counted_in_the_target_tokenizer(tmp_path: Path, tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = [*facts(3), {"prompt": "Tell me everything. " * 20, "completion": "No."}]
    lengths = [len(tokenizer(row["prompt"] + row["completion"])["input_ids"]) for row in rows]
    report = check(write_jsonl(tmp_path / "d.jsonl", rows), tokenizer=tokenizer, max_length=max(lengths[:3]))
    assert finding(report, "length").positions == [4]
    assert (report.length_tokens["min"], report.length_tokens["max"]) == (min(lengths), max(lengths))


def test_the_split_is_stratified_seeded_and_hashed(tmp_path: Path) -> None:
    rows = facts(20, label="a")[:10] + [{**row, "label": "b"} for row in facts(20)[10:]]
    parsed = parse_examples(read_data(write_jsonl(tmp_path / "d.jsonl", rows)), "sft")
    split = split_examples(parsed.examples, label_field=parsed.label_field, seed=7)
    again = split_examples(parsed.examples, label_field=parsed.label_field, seed=7)
    assert split.stratified_by == "label" and len(split.train) == 16 and len(split.eval) == 4
    assert sorted(example.label for example in split.eval) == ["a", "a", "b", "b"]
    assert [example.position for example in split.eval] == [example.position for example in again.eval]
    manifest = split_manifest(split, source="d.jsonl", source_sha256="x", eval_fraction=0.2, seed=7, balance=None)
    assert manifest["train"]["label_counts"] == {"a": 8, "b": 8} and len(manifest["eval"]["sha256"]) == 64


def test_oversampling_balances_the_training_split_only(tmp_path: Path) -> None:
    rows = facts(12, label="a")[:9] + [{**row, "label": "b"} for row in facts(12)[9:]]
    parsed = parse_examples(read_data(write_jsonl(tmp_path / "d.jsonl", rows)), "sft")
    assert sorted(example.label for example in rebalance(parsed.examples, "undersample", seed=0)) == ["a"] * 3 + ["b"] * 3
    split = split_examples(parsed.examples, label_field="label", eval_fraction=0.25, seed=0, balance="oversample")
    train_labels = [example.label for example in split.train]
    assert train_labels.count("a") == train_labels.count("b") and len(split.eval) == 3


def test_csv_parquet_and_saved_datasets_are_read(tmp_path: Path) -> None:
    import datasets
    import pyarrow as pa
    from pyarrow import csv, parquet

    table = pa.Table.from_pylist(facts(3))
    csv.write_csv(table, tmp_path / "d.csv")
    parquet.write_table(table, tmp_path / "d.parquet")
    datasets.Dataset.from_list(facts(3)).save_to_disk(str(tmp_path / "saved"))
    for path in (tmp_path / "d.csv", tmp_path / "d.parquet", tmp_path / "saved"):
        report = check(path)
        assert report.ok and report.examples == 3 and report.unit == "row", path


def test_the_cli_prints_json_writes_the_split_and_exits_by_severity(tmp_path: Path, tiny_model_dir: Path) -> None:
    from typer.testing import CliRunner

    from evalkit.cli import app

    good = write_jsonl(tmp_path / "good.jsonl", facts(10))
    command = ["data", "check", "--model", str(tiny_model_dir), "--no-guard", "--min-examples", "5"]
    passed = CliRunner().invoke(app, [*command, str(good), "--json", "--split", str(tmp_path / "split")])
    assert passed.exit_code == 0, passed.output
    report = json.loads(passed.stdout)
    assert report["outputs"]["train"].endswith("train.jsonl") and report["length_tokens"]["max"] > 0
    manifest = json.loads((tmp_path / "split" / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["train"]["examples"], manifest["eval"]["examples"]) == (8, 2)
    bad = write_jsonl(tmp_path / "bad.jsonl", [*facts(5), facts(1)[0]])
    failed = CliRunner().invoke(app, [*command, str(bad), "--quiet"])
    assert failed.exit_code == 1 and failed.stdout == ""


def test_an_unreadable_file_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "evalkit", "data", "check", str(tmp_path / "missing.jsonl"),
                             "--model", "none", "--no-guard"], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == f"error: data {tmp_path / 'missing.jsonl'} does not exist: " \
                                                      "check the path"
