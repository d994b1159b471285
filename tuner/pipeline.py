"""``evalkit tune``: preflight the data, train, record the run, then score, register and promote through the gate.

Promotion happens only on a full pass: the adapter is scored with the suite the policy names, registered as a
version, and gated against what the alias points at (or the base model when it points at nothing); only a pass
moves the alias. A failed gate marks the version ``rejected`` with its failing checks and changes nothing else.
A merged model is a version of its own and is gated again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from evalkit import store
from evalkit.checkpoints import load_transformers, resolve
from evalkit.gate.inputs import RunInput
from evalkit.gate.policy import PolicyFile, load_policy
from evalkit.gate.result import GateResult
from evalkit.progress import Notify, task_progress
from evalkit.scorecard import Scorecard, TrainingSection
from tuner.base import TrainingBase, load_tokenizer, resolve_base
from tuner.config import TuneConfig, load_config
from tuner.curves import curve_verdicts
from tuner.data import check_file, parse_examples, read_data, split_examples, split_manifest
from tuner.data.balance import rebalance
from tuner.data.report import DataReport, positions_text
from tuner.data.schema import Layout
from tuner.data.split import Split
from tuner.errors import TuneError
from tuner.model_card import model_card
from tuner.promote import promote
from tuner.record import (
    attach_training,
    build_manifest,
    merged_manifest,
    save_training_run,
    training_section,
    write_manifest,
)
from tuner.registry import Event, register_version
from tuner.train import TrainResult, choose_precision, require_qlora, train, trl_rows


@dataclass
class Promotion:
    """One registered artefact and what its gate decided."""

    spec: str
    version_id: str
    gate: GateResult | None = None
    event: Event | None = None


@dataclass
class TuneOutcome:
    """What ``evalkit tune`` did."""

    config: TuneConfig
    section: TrainingSection
    manifest_path: Path
    promotions: list[Promotion] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when a gate refused a promotion, else 0."""
        return 1 if any(item.gate is not None and item.event is None for item in self.promotions) else 0


def _fail_on_errors(report: DataReport, path: Path, method: str) -> None:
    if report.ok:
        return
    first = report.errors[0]
    where = positions_text(report.unit, first.positions, limit=3)
    raise TuneError(f"data {path} failed its preflight with {len(report.errors)} error finding(s), first: "
                    f"{first.message}{f' ({where})' if where else ''}; see evalkit data check {path} --format {method}")


def prepare_data(config: TuneConfig, base: TrainingBase, notify: Notify) -> tuple[Split, dict[str, Any], Layout]:
    """Preflight the training data (and read the evaluation file, if any), then split it.

    Returns:
        The split, its description with the data hashes (for the manifest), and the layout.
    """
    data_config = config.data
    options = data_config.preflight
    report, parsed, data = check_file(data_config.path, config.method, options, tokenizer=load_tokenizer(base),
                                      max_length=config.training.max_length, notify=notify)
    _fail_on_errors(report, data_config.path, config.method)
    assert parsed.layout is not None
    if data_config.eval_path is None:
        split = split_examples(parsed.examples, label_field=parsed.label_field, eval_fraction=data_config.eval_fraction,
                               seed=config.training.seed, balance=data_config.balance)
    else:
        eval_data = read_data(data_config.eval_path)
        held_out = parse_examples(eval_data, config.method, label_field=options.label_field)
        if any(finding.severity == "error" for finding in held_out.findings) or held_out.layout != parsed.layout:
            raise TuneError(f"evaluation data {data_config.eval_path} has schema errors or another layout than the "
                            f"training data: see evalkit data check {data_config.eval_path}")
        training = rebalance(parsed.examples, data_config.balance, seed=config.training.seed) \
            if data_config.balance else parsed.examples
        split = Split(training, held_out.examples, None, f"separate evaluation file {data_config.eval_path}")
    description = split_manifest(split, source=str(data_config.path), source_sha256=data.sha256,
                                 eval_fraction=data_config.eval_fraction, seed=config.training.seed,
                                 balance=data_config.balance)
    if data_config.eval_path is not None:
        description["eval_source"] = {"path": str(data_config.eval_path), "sha256": eval_data.sha256}
    return split, description, parsed.layout


def run_training(config: TuneConfig, base: TrainingBase, split: Split, layout: Layout, *, console: Console,
                 quiet: bool) -> tuple[TrainingSection, TrainResult]:
    """Train as a run in the run store: indexed ``running`` at the start (the base model is what it runs on),
    ``finished`` with its scorecard (the training section) once the adapter is saved, ``failed`` if anything breaks.

    Returns:
        The training section and the training result.
    """
    run_id = store.new_run_id(f"tune-{config.output.dir.name}")
    folder = store.start_run(run_id, base.checkpoint.spec, base.checkpoint.fingerprint, f"tune:{config.method}")
    started = time.perf_counter()
    try:
        result = train(config, base, trl_rows(split.train, layout), trl_rows(split.eval, layout), run_folder=folder,
                       console=console, quiet=quiet)
        verdicts = curve_verdicts(result.train_loss, result.eval_loss, config.curves, best_step=result.best_step)
        section = training_section(config, base, result, run_id=run_id, verdicts=verdicts,
                                   output_fingerprint=resolve(str(result.adapter_dir)).fingerprint)
        save_training_run(folder, base, result, section, time.perf_counter() - started)
    except BaseException:
        store.finish_run(run_id, "failed")
        raise
    store.finish_run(run_id)
    return section, result


def merge_adapter(adapter_dir: Path, target: Path) -> str:
    """Save the base with the adapter merged in (float32, loaded on the CPU) as a model folder; return its path."""
    model, tokenizer = load_transformers(resolve(str(adapter_dir)), dtype="float32", device="cpu")
    staging = target.with_name(f".{target.name}.tmp")
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    staging.replace(target)
    return str(target)


def register_and_promote(manifest: dict[str, Any], section: TrainingSection, policy: PolicyFile | None, *,
                         alias: str, console: Console, quiet: bool) -> Promotion:
    """Score an artefact with the policy's suite (its run carries the training section), register it, and gate it
    against ``alias``; without a policy, register it only.

    Args:
        manifest: the artefact's manifest (``spec`` and ``fingerprint`` name it).
        section: the training section to copy into its scoring run.
        policy: the gate policy, or ``None``.
        alias: the alias to move on a pass.
        console: where scoring progress goes.
        quiet: draw nothing.

    Returns:
        The :class:`Promotion`.
    """
    from evalkit.gate.command import score_candidate

    def scorer(policy_file: PolicyFile, spec: str) -> RunInput:
        return score_candidate(policy_file, spec, console=console, quiet=quiet)

    spec = manifest["spec"]
    runs: list[Scorecard] = []
    if policy is not None:
        runs.append(attach_training(scorer(policy, spec), section).scorecard)
    version = register_version(spec, manifest["fingerprint"], manifest=manifest,
                               run_ids=[section.training_run, *(card.run_id for card in runs)],
                               model_card=model_card(spec, manifest, runs))
    if policy is None:
        return Promotion(spec, version.version_id)
    gate, event = promote(version.version_id, alias=alias, policy=policy.path, score=scorer)
    return Promotion(spec, version.version_id, gate, event)


def tune(config_path: Path, *, console: Console, quiet: bool = False) -> TuneOutcome:
    """Run a tune config end to end.

    Args:
        config_path: the YAML config.
        console: where progress goes (stderr).
        quiet: no progress output.

    Returns:
        The :class:`TuneOutcome`.

    Raises:
        TuneError: an invalid config, QLoRA without CUDA and bitsandbytes, an output folder that already holds an
            adapter, or data that failed its preflight.
    """
    config = load_config(config_path)
    if config.adapter.qlora:
        require_qlora()
    choose_precision(config)
    if (config.output.dir / "adapter").exists():
        raise TuneError(f"{config.output.dir / 'adapter'} already exists (it may be a registered version): set "
                        "output.dir to a new folder")
    policy = load_policy(config.promotion.policy) if config.promotion.policy else None
    base = resolve_base(config.base)
    with task_progress(console=console, quiet=quiet) as (notify, _):
        split, data, layout = prepare_data(config, base, notify)
        notify("data checked")
    section, result = run_training(config, base, split, layout, console=console, quiet=quiet)
    manifest = build_manifest(config, section, data, precision=result.precision, device=result.device)
    artefacts = [manifest]
    if config.output.merge:
        merged = merge_adapter(Path(section.output), config.output.dir / "merged")
        artefacts.append(merged_manifest(manifest, spec=merged, fingerprint=resolve(merged).fingerprint))
        manifest = {**manifest, "merged": {"spec": merged, "fingerprint": artefacts[-1]["fingerprint"]}}
    outcome = TuneOutcome(config, section, write_manifest(config.output.dir, manifest))
    for artefact in artefacts:
        outcome.promotions.append(register_and_promote(artefact, section, policy, alias=config.promotion.alias,
                                                       console=console, quiet=quiet))
    return outcome
