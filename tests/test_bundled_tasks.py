"""Bundled offline tasks (`evalkit/tasks`): each loads offline through lm-eval, has the issue's minimum number
of items in the original dataset's schema with valid gold answers, and defines its prompt, choices, metrics and
scoring exactly as lm-eval's official task for that dataset, so swapping in the real data gives the official
number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lm_eval
import pytest
import yaml

from evalkit.tasks_resolve import BUNDLED_TASKS_DIR, build_task_manager, bundled_task_names, load_tasks

OFFICIAL_TASKS_DIR = Path(lm_eval.__file__).resolve().parent / "tasks"
GLUE = ["sst2", "mnli", "qnli", "rte", "mrpc", "cola", "qqp"]

# Our task -> the official lm-eval task YAML it stands in for (MMLU: one subject file; see MMLU tests below).
OFFICIAL_YAML = {
    "evalkit_mmlu": "mmlu/default/mmlu_anatomy.yaml",
    "evalkit_truthfulqa_mc1": "truthfulqa/truthfulqa_mc1.yaml",
    "evalkit_truthfulqa_mc2": "truthfulqa/truthfulqa_mc2.yaml",
    **{f"evalkit_{name}": f"glue/{name}/default.yaml" for name in GLUE},
    "evalkit_boolq": "super_glue/boolq/default.yaml",
    "evalkit_hellaswag": "hellaswag/hellaswag.yaml",
    "evalkit_arc_easy": "arc/arc_easy.yaml",
    "evalkit_arc_challenge": "arc/arc_challenge.yaml",
    "evalkit_piqa": "piqa/piqa.yaml",
    "evalkit_winogrande": "winogrande/default.yaml",
    "evalkit_gsm8k": "gsm8k/gsm8k.yaml",
    "evalkit_ifeval": "ifeval/ifeval.yaml",
}

MINIMUM_ITEMS = {
    "evalkit_mmlu": 100, "evalkit_truthfulqa_mc1": 60, "evalkit_truthfulqa_mc2": 60,
    **{f"evalkit_{name}": 40 for name in GLUE},
    "evalkit_hellaswag": 60, "evalkit_arc_easy": 60, "evalkit_arc_challenge": 60, "evalkit_piqa": 50,
    "evalkit_winogrande": 50, "evalkit_boolq": 40, "evalkit_gsm8k": 30, "evalkit_ifeval": 30,
}

_GLUE_FIELDS = {
    "sst2": {"sentence", "label", "idx"}, "cola": {"sentence", "label", "idx"},
    "mnli": {"premise", "hypothesis", "label", "idx"}, "qnli": {"question", "sentence", "label", "idx"},
    "rte": {"sentence1", "sentence2", "label", "idx"}, "mrpc": {"sentence1", "sentence2", "label", "idx"},
    "qqp": {"question1", "question2", "label", "idx"},
}
# The column names of each original dataset (every split), and the keys of its nested fields.
DATASET_FIELDS = {
    "evalkit_mmlu": {"question", "subject", "choices", "answer"},
    "evalkit_truthfulqa_mc1": {"question", "mc1_targets", "mc2_targets"},
    "evalkit_truthfulqa_mc2": {"question", "mc1_targets", "mc2_targets"},
    **{f"evalkit_{name}": fields for name, fields in _GLUE_FIELDS.items()},
    "evalkit_boolq": {"question", "passage", "idx", "label"},
    "evalkit_hellaswag": {"ind", "activity_label", "ctx_a", "ctx_b", "ctx", "endings", "source_id", "split",
                          "split_type", "label"},
    "evalkit_arc_easy": {"id", "question", "choices", "answerKey"},
    "evalkit_arc_challenge": {"id", "question", "choices", "answerKey"},
    "evalkit_piqa": {"goal", "sol1", "sol2", "label"},
    "evalkit_winogrande": {"sentence", "option1", "option2", "answer"},
    "evalkit_gsm8k": {"question", "answer"},
    "evalkit_ifeval": {"key", "prompt", "instruction_id_list", "kwargs"},
}
NESTED_FIELDS = {
    "evalkit_truthfulqa_mc1": {"mc1_targets": {"choices", "labels"}, "mc2_targets": {"choices", "labels"}},
    "evalkit_truthfulqa_mc2": {"mc1_targets": {"choices", "labels"}, "mc2_targets": {"choices", "labels"}},
    "evalkit_arc_easy": {"choices": {"text", "label"}},
    "evalkit_arc_challenge": {"choices": {"text", "label"}},
}

PROMPT_FIELDS = ("doc_to_text", "doc_to_target", "doc_to_choice", "target_delimiter", "fewshot_delimiter",
                 "output_type", "metric_list", "filter_list", "generation_kwargs", "num_fewshot",
                 "process_docs", "process_results", "fewshot_config")


def test_every_bundled_task_is_mapped_to_an_official_task() -> None:
    assert sorted(bundled_task_names()) == sorted(OFFICIAL_YAML)


@pytest.fixture(scope="module")
def tasks() -> dict[str, Any]:
    """Every bundled task, built offline by lm-eval through evalkit's task manager."""
    names = bundled_task_names()
    manager = build_task_manager(names)
    return {name: load_tasks(name, manager).tasks[name] for name in names}


# --- loading, size and schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", bundled_task_names())
def test_task_loads_offline_as_one_task(name: str, tasks: dict[str, Any]) -> None:
    task = tasks[name]

    assert task.config.task == name
    assert len(task.eval_docs) > 0


@pytest.mark.parametrize("name", sorted(MINIMUM_ITEMS))
def test_task_has_the_minimum_number_of_items(name: str, tasks: dict[str, Any]) -> None:
    assert len(tasks[name].eval_docs) >= MINIMUM_ITEMS[name]


def test_mmlu_covers_at_least_ten_subjects(tasks: dict[str, Any]) -> None:
    assert len({doc["subject"] for doc in tasks["evalkit_mmlu"].eval_docs}) >= 10


@pytest.mark.parametrize("name", sorted(DATASET_FIELDS))
def test_every_split_has_exactly_the_original_dataset_fields(name: str, tasks: dict[str, Any]) -> None:
    dataset = tasks[name].dataset

    for split in dataset:
        assert set(dataset[split].column_names) == DATASET_FIELDS[name], split
        for doc in dataset[split]:
            for field, keys in NESTED_FIELDS.get(name, {}).items():
                assert set(doc[field]) == keys, (split, field)


def _docs_with_answers(task: Any) -> list[dict[str, Any]]:
    """The evaluation docs and the few-shot docs, both of which render their gold answer."""
    few_shot = task.fewshot_docs()
    return [*task.eval_docs, *(few_shot if few_shot is not None else [])]


@pytest.mark.parametrize("name", [name for name in sorted(OFFICIAL_YAML)
                                  if name not in ("evalkit_gsm8k", "evalkit_ifeval")])
def test_every_gold_answer_indexes_the_choices(name: str, tasks: dict[str, Any]) -> None:
    task = tasks[name]
    assert task.config.output_type == "multiple_choice"

    for doc in _docs_with_answers(task):
        choices = task.doc_to_choice(doc)
        # With several contexts (WinoGrande) lm-eval reads the gold index from doc_to_text.
        gold = task.doc_to_text(doc) if task.multiple_input else task.doc_to_target(doc)
        assert isinstance(gold, int) and 0 <= gold < len(choices), doc
        assert len(set(choices)) == len(choices), doc


def test_truthfulqa_labels_follow_the_original_convention(tasks: dict[str, Any]) -> None:
    for doc in tasks["evalkit_truthfulqa_mc1"].eval_docs:
        mc1, mc2 = doc["mc1_targets"], doc["mc2_targets"]
        assert mc1["labels"] == [1] + [0] * (len(mc1["choices"]) - 1), doc["question"]
        assert len(mc1["labels"]) == len(mc1["choices"]) >= 2
        assert len(mc2["labels"]) == len(mc2["choices"])
        assert set(mc2["labels"]) == {0, 1}, doc["question"]


def test_gsm8k_answers_end_in_the_final_number(tasks: dict[str, Any]) -> None:
    task = tasks["evalkit_gsm8k"]

    for doc in _docs_with_answers(task):
        assert re.search(r"\n#### -?[0-9][0-9,]*(\.[0-9]+)?$", doc["answer"]), doc["answer"]


def test_ifeval_instructions_are_checked_by_lm_eval(tasks: dict[str, Any]) -> None:
    from lm_eval.tasks.ifeval.instructions_registry import INSTRUCTION_DICT

    for doc in tasks["evalkit_ifeval"].eval_docs:
        assert doc["instruction_id_list"], doc["key"]
        assert len(doc["kwargs"]) == len(doc["instruction_id_list"]), doc["key"]
        for instruction_id in doc["instruction_id_list"]:
            assert instruction_id in INSTRUCTION_DICT, instruction_id


# --- parity with lm-eval's official tasks ---------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionRef:
    """A ``!function module.name`` tag, kept unresolved; two refs match when the function names match."""

    qualified_name: str

    @property
    def name(self) -> str:
        return self.qualified_name.rsplit(".", 1)[-1]


class _TaskYamlLoader(yaml.SafeLoader):
    """Reads lm-eval task YAMLs, turning ``!function`` tags into :class:`FunctionRef`."""


_TaskYamlLoader.add_constructor("!function", lambda loader, node: FunctionRef(loader.construct_scalar(node)))


def read_task_yaml(path: Path) -> dict[str, Any]:
    """Read a task YAML, merging ``include:`` files beneath it (its own keys win)."""
    config = yaml.load(path.read_text(encoding="utf-8"), Loader=_TaskYamlLoader)
    included = config.pop("include", None)
    if included is None:
        return config
    merged: dict[str, Any] = {}
    for name in included if isinstance(included, list) else [included]:
        merged.update(read_task_yaml(path.parent / name))
    merged.update(config)
    return merged


def _comparable(value: Any) -> Any:
    if isinstance(value, FunctionRef):
        return f"!function {value.name}"
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


@pytest.mark.parametrize("name", sorted(OFFICIAL_YAML))
def test_prompt_fields_equal_the_official_task_yaml(name: str) -> None:
    ours = read_task_yaml(BUNDLED_TASKS_DIR / f"{name}.yaml")
    official = read_task_yaml(OFFICIAL_TASKS_DIR / OFFICIAL_YAML[name])

    for field in PROMPT_FIELDS:
        assert _comparable(ours.get(field)) == _comparable(official.get(field)), field


def _official_task_on_our_data(name: str, ours: Any, official_yaml: Path) -> Any:
    """lm-eval's official task config, its ``!function`` helpers resolved from lm-eval, reading our JSONL data."""
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    config = load_yaml(official_yaml, resolve_func=True)
    our_config = ours.config
    config.update(task=f"official_{name}", dataset_path=None, dataset_name=None,
                  custom_dataset=our_config.custom_dataset, dataset_kwargs=our_config.dataset_kwargs,
                  training_split=our_config.training_split, validation_split=our_config.validation_split,
                  test_split=our_config.test_split, fewshot_split=our_config.fewshot_split)
    return ConfigurableTask(config=config)


def _official_yaml_for(name: str, doc: dict[str, Any]) -> Path:
    if name == "evalkit_mmlu":
        return OFFICIAL_TASKS_DIR / "mmlu" / "default" / f"mmlu_{doc['subject']}.yaml"
    return OFFICIAL_TASKS_DIR / OFFICIAL_YAML[name]


def _contexts(task: Any, doc: dict[str, Any], shots: int) -> Any:
    task.set_fewshot_seed(1234)
    return task.fewshot_context(doc, num_fewshot=shots)


def _fake_results(task: Any, doc: dict[str, Any]) -> list[Any]:
    """Model outputs to score: a (loglikelihood, is_greedy) per choice, or one generation."""
    if task.config.output_type == "multiple_choice":
        return [(-1.0 - index, index == 1) for index in range(len(task.doc_to_choice(doc)))]
    return ["The answer is 12.\n#### 12"]


@pytest.mark.parametrize("name", sorted(OFFICIAL_YAML))
def test_rendered_prompts_and_scores_equal_the_official_task(name: str, tasks: dict[str, Any]) -> None:
    ours = tasks[name]
    first = ours.eval_docs[0]
    official = _official_task_on_our_data(name, ours, _official_yaml_for(name, first))
    default_shots = ours.config.num_fewshot or 0
    # Tasks that pin num_fewshot run only that way (IFEval cannot render shots); others also with 2 shots.
    shot_counts = sorted({0, default_shots if ours.config.num_fewshot is not None else 2})

    for index in range(min(3, len(ours.eval_docs))):
        doc, official_doc = ours.eval_docs[index], official.eval_docs[index]
        assert doc == official_doc
        if name == "evalkit_mmlu" and doc["subject"] != first["subject"]:
            continue
        assert ours.doc_to_text(doc) == official.doc_to_text(doc)
        assert ours.doc_to_target(doc) == official.doc_to_target(doc)
        if ours.config.doc_to_choice is not None:
            assert ours.doc_to_choice(doc) == official.doc_to_choice(doc)
        for shots in shot_counts:
            assert _contexts(ours, doc, shots) == _contexts(official, doc, shots), shots
        context = _contexts(ours, doc, default_shots)
        ours_requests = ours.construct_requests(doc, context, metadata=(name, index, 1))
        official_requests = official.construct_requests(doc, context, metadata=(name, index, 1))
        as_list = lambda requests: requests if isinstance(requests, list) else [requests]
        assert [request.args for request in as_list(ours_requests)] == [
            request.args for request in as_list(official_requests)]
        results = _fake_results(ours, doc)
        assert ours.process_results(doc, results) == official.process_results(doc, results)


def test_mmlu_description_renders_the_official_sentence_for_every_subject(tasks: dict[str, Any]) -> None:
    from lm_eval.utils import apply_template

    task = tasks["evalkit_mmlu"]
    subjects = sorted({doc["subject"] for doc in task.eval_docs})
    for subject in subjects:
        official_path = OFFICIAL_TASKS_DIR / "mmlu" / "default" / f"mmlu_{subject}.yaml"
        assert official_path.is_file(), f"{subject} is not an MMLU subject"
        official = read_task_yaml(official_path)

        assert apply_template(task.config.description, {"subject": subject}) == official["description"]


def test_mmlu_prompt_fields_equal_the_official_template() -> None:
    ours = read_task_yaml(BUNDLED_TASKS_DIR / "evalkit_mmlu.yaml")
    official = read_task_yaml(OFFICIAL_TASKS_DIR / "mmlu" / "default" / "_default_template_yaml")

    for field in (*PROMPT_FIELDS, "fewshot_split", "test_split"):
        assert _comparable(ours.get(field)) == _comparable(official.get(field)), field
