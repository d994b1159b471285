"""The Scorecard: every claim evalkit makes about a model, in one validated, versioned JSON document."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit.atomic import write_text_atomic

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckpointInfo(_Strict):
    """What was scored."""

    spec: str = Field(description="The checkpoint spec as the user gave it.")
    kind: str = Field(description="embedded, hf_dir, hub, adapter, gguf or openai.")
    fingerprint: str = Field(description="sha256 over the checkpoint's config and weight files.")
    base_fingerprint: str | None = Field(default=None, description="For adapters, the base model's fingerprint.")
    dtype: str = Field(description="The dtype the weights ran in, or 'remote'.")
    backend: str = Field(description="The lm-eval model backend that ran the tasks.")


class Environment(_Strict):
    """Where it was scored."""

    python: str
    platform: str
    device: str
    torch_threads: int
    packages: dict[str, str] = Field(description="Versions of the packages that shape the numbers.")


class Metric(_Strict):
    """One metric of one task: value with its standard error and sample size."""

    name: str
    filter: str = Field(description="lm-eval filter the metric was computed after ('none' if no filter).")
    value: float | None
    stderr: float | None = Field(description="Standard error; None where lm-eval gives none.")
    n: int = Field(description="Number of items the value is computed over.")
    higher_is_better: bool | None = None


class TaskSettings(_Strict):
    """The settings a task ran with; part of the cache key."""

    num_fewshot: int
    limit: int | float | None
    seed: int
    apply_chat_template: bool
    chat_template_sha256: str | None = None
    fewshot_as_multiturn: bool = False
    gen_kwargs: dict[str, int | float | str | bool] | None = None


class TaskResult(_Strict):
    """The result of one lm-eval task."""

    name: str
    version: str | None
    output_type: str
    data_sha256: str = Field(description="sha256 over the evaluated documents.")
    prompt_sha256: str = Field(description="sha256 over the prompt template and task settings of lm-eval's config.")
    settings: TaskSettings
    metrics: list[Metric]
    seconds: float
    cached_from: str | None = Field(default=None, description="Run id whose stored result was reused, if any.")


class GroupResult(_Strict):
    """An lm-eval group's aggregate over its leaf tasks, computed as lm-eval computes it."""

    name: str
    tasks: list[str] = Field(description="The leaf tasks aggregated.")
    metrics: list[Metric] = Field(description="Aggregates per the group's aggregate_metric_list; n is the summed "
                                              "sample size.")


class Perplexity(_Strict):
    """Cross-entropy and perplexity of the model on a text source."""

    source: str
    n: int = Field(description="Number of documents.")
    tokens: int
    bytes: int
    cross_entropy: float = Field(description="Mean negative log-likelihood per token, in nats.")
    cross_entropy_stderr: float | None = Field(description="Standard error of the per-document mean NLL/token.")
    token_perplexity: float
    byte_perplexity: float
    bits_per_byte: float


class Uncertainty(_Strict):
    """Token-level uncertainty of a task's generations."""

    task: str
    n: int = Field(description="Number of generations.")
    tokens: int = Field(description="Generated tokens scored (the decoded output re-tokenized).")
    mean_nll: float = Field(description="Mean negative log-prob of generated tokens (nats).")
    mean_nll_stderr: float | None
    mean_entropy: float = Field(description="Mean entropy of the next-token distribution at generated tokens (nats).")
    mean_entropy_stderr: float | None


class Factuality(_Strict):
    """Factuality as measured by TruthfulQA-style tasks in this run."""

    task: str
    metric: str
    value: float
    stderr: float | None
    n: int


class SeedMetrics(_Strict):
    """The model-level metrics of the fine-tuning guide's checklist."""

    perplexity: list[Perplexity] = Field(default_factory=list)
    prompt_perplexity: list[Perplexity] = Field(default_factory=list)
    uncertainty: list[Uncertainty] = Field(default_factory=list)
    factuality: list[Factuality] = Field(default_factory=list)


class SafetySection(_Strict):
    """The safety suite: the checkpoint's replies to bundled prompt sets, judged by a guard and a refusal detector."""

    guard: str = Field(description="The guard that judged the replies (registry name).")
    guard_checkpoint: str | None = Field(description="The guard's weights (checkpoint spec), None for built-ins.")
    guard_fingerprint: str | None = None
    threshold: float = Field(description="unsafe_prob at or above which a reply counts as unsafe.")
    refusal_detector: str = Field(description="The refusal detector (independent of the guard).")
    generation: dict[str, int | float | str | bool] = Field(description="Decoding settings of the replies.")
    summary: list[Metric] = Field(description="Headline rates: unsafe_response_rate, refusal_rate (harmful "
                                  "prompts), over_refusal_rate (benign prompts), jailbreak_success_rate, ...")
    by_category: dict[str, list[Metric]] = Field(
        default_factory=dict, description="Each summary metric per hazard category / prompt type / group.")
    tasks: list[TaskResult] = Field(description="One entry per prompt set, with data and template hashes; "
                                    "items.jsonl rows carry the same task names, so the gate can pair them.")
    guard_parse_errors: int = Field(default=0, description="Replies whose guard output could not be parsed "
                                    "(excluded from the rates and counted here).")


class RagMetric(_Strict):
    """One RAG metric over the items that could be scored, with what it cost and how often the judge failed."""

    name: str
    family: str = Field(description="ragas-llm (ragas with the LLM judge), ragas (ragas without an LLM), evalkit "
                                    "(context relevance, completeness, chunk attribution and utilization) or "
                                    "retrieval (from chunk ids).")
    value: float | None = Field(description="Mean over the scored items; None when no item could be scored.")
    stderr: float | None = Field(description="Standard error of the mean (sample variance, ddof=1).")
    n: int = Field(description="Items scored.")
    higher_is_better: bool = True
    skipped: int = Field(default=0, description="Items without the inputs the metric needs, or for which it is "
                                               "undefined (e.g. no attributed chunk); excluded.")
    judge_calls: int = Field(default=0, description="Judge calls the metric made.")
    judge_failures: int = Field(default=0, description="Items whose judge output could not be parsed (or gave "
                                                      "no value); excluded from the value, never scored.")
    judge_failure_rate: float | None = Field(default=None, description="judge_failures / (n + judge_failures); "
                                             "None when the metric used no judge.")
    reliable: bool = Field(default=True, description="False when judge_failure_rate exceeds the run's "
                                                     "max_judge_failure_rate (or nothing was scored); the gate then "
                                                     "calls a check on it inconclusive.")
    seconds: float = 0.0


class RagRowProblem(_Strict):
    """A trace the run could use only in part: what is wrong with it and the metrics it affects."""

    line: int | None = Field(description="Line of the traces file; None for the bundled task.")
    id: str = Field(description="The sample's id.")
    problem: str = Field(description="E.g. 'no reference', 'no chunk_id on retrieved chunk(s) 2', "
                                     "'blank retrieved chunk(s) 1'.")
    metrics: list[str] = Field(description="Metrics that skipped the sample (for a missing input) or read the "
                                           "blank chunk.")


class RagSection(_Strict):
    """RAG metrics: of the bundled RAG task (retrieval, generation by the checkpoint) or of a traces file."""

    source: str = Field(description="'bundled' (the rag suite's corpus and questions) or the traces file.")
    items: int = Field(description="Samples scored.")
    judge: str | None = Field(description="The judge's checkpoint spec; None when no metric needed one.")
    judge_fingerprint: str | None = None
    embedder: str = Field(description="The sentence embedder (minilm: the embedded all-MiniLM-L6-v2).")
    settings: dict[str, int | float | str | bool | None] = Field(
        description="attribution_threshold, max_judge_failure_rate, judge_max_new_tokens, judge_batch_size, "
                    "attribution_judge.")
    retrieval: dict[str, int | float | str | bool] | None = Field(
        default=None, description="For the bundled task: top_k, corpus chunks, embedder.")
    generation: dict[str, int | float | str | bool] | None = Field(
        default=None, description="For the bundled task: the answers' decoding settings.")
    metrics: list[RagMetric] = Field(description="One entry per metric (rag.<name> in a gate policy).")
    problems: list[RagRowProblem] = Field(default_factory=list, description="Rows with recoverable problems, "
                                          "in file order (the run goes on; the metrics named skip or read them).")
    tasks: list[TaskResult] = Field(description="The same values as task metrics, with data and settings hashes; "
                                                "items.jsonl rows carry the task name, so relative checks pair them.")


class LossPoint(_Strict):
    """One recorded loss of a training run."""

    step: int = Field(description="Optimizer step at which it was logged.")
    epoch: float | None = None
    loss: float | None = Field(description="Mean token cross-entropy (nats); None when it was not finite.")


class CurveVerdict(_Strict):
    """One verdict on a training run's loss curves (tuner.curves), with the numbers behind it."""

    name: str = Field(description="no_underfitting, no_overfitting, no_fluctuation, consistent_improvement or "
                                  "stable.")
    verdict: Literal["pass", "fail", "warn"] = Field(description="warn: too few points to decide, or a caveat.")
    reason: str
    evidence: dict[str, float | int | str | bool | list[float] | None] = Field(default_factory=dict)


class TrainingSection(_Strict):
    """How a fine-tuned checkpoint was trained: its loss curves and their verdicts, for the gate's curve check."""

    method: str = Field(description="sft or dpo.")
    adapter: str = Field(description="lora, dora, qlora or qlora+dora.")
    base: str = Field(description="The base checkpoint spec.")
    base_fingerprint: str
    output: str = Field(description="The trained adapter's folder.")
    output_fingerprint: str = Field(description="The trained adapter's checkpoint fingerprint.")
    training_run: str = Field(description="The run id of the training run in the run store.")
    steps: int = Field(description="Optimizer steps taken.")
    epochs: float
    best_step: int | None = Field(default=None, description="Step of the checkpoint with the lowest eval loss.")
    summary: dict[str, float | None] = Field(description="First, last and best training and evaluation losses.")
    train_loss: list[LossPoint]
    eval_loss: list[LossPoint]
    verdicts: list[CurveVerdict]


class Scorecard(_Strict):
    """A full record of one scoring run."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    created_at: datetime
    suite: str | None
    checkpoint: CheckpointInfo
    environment: Environment
    tasks: list[TaskResult]
    groups: list[GroupResult] = Field(default_factory=list, description="Aggregates of requested lm-eval groups.")
    seed_metrics: SeedMetrics = Field(default_factory=SeedMetrics)
    safety: SafetySection | None = Field(default=None, description="The safety suite, when it ran.")
    rag: RagSection | None = Field(default=None, description="RAG metrics, when the rag suite or evalkit rag score "
                                   "ran.")
    training: TrainingSection | None = Field(default=None, description="For a checkpoint trained by evalkit tune: "
                                             "its loss curves and curve verdicts.")
    options: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="Run-wide options that do not change results (batch size, device).")
    timings: dict[str, float] = Field(description="Seconds spent in load, each task, seed metrics and total.")
    items_path: str = Field(description="items.jsonl beside the scorecard: one row per item and metric.")

    def metric(self, task: str, name: str, filter_name: str | None = None) -> Metric:
        """Return one metric, e.g. ``scorecard.metric("evalkit_arc_easy", "acc")``.

        Args:
            task: the task name.
            name: the metric name.
            filter_name: the filter; ``None`` takes the first filter that has the metric.

        Returns:
            The :class:`Metric`.
        """
        for result in self.tasks:
            if result.name != task:
                continue
            for metric in result.metrics:
                if metric.name == name and filter_name in (None, metric.filter):
                    return metric
        raise KeyError(f"{task}.{name}")

    def save(self, path: Path) -> None:
        """Write the scorecard as indented JSON, atomically.

        Args:
            path: the destination file.
        """
        write_text_atomic(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Scorecard:
        """Read and validate a scorecard file.

        Args:
            path: a ``scorecard.json``.

        Returns:
            The validated :class:`Scorecard`.
        """
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
