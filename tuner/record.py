"""What a training run leaves behind: its scorecard in the run store (a ``training`` section with the losses and
curve verdicts), the manifest beside the adapter, and the training section copied into the adapter's scoring run
so that ``evalkit gate`` sees the curves of the checkpoint it judges."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from evalkit.atomic import write_text_atomic
from evalkit.environment import capture_environment
from evalkit.gate.inputs import RunInput
from evalkit.items import write_items
from evalkit.scorecard import CheckpointInfo, CurveVerdict, LossPoint, Scorecard, TrainingSection
from tuner.base import TrainingBase
from tuner.config import TuneConfig
from tuner.train import TrainResult

MANIFEST_PACKAGES = ("evalkit-gate", "torch", "transformers", "trl", "peft", "accelerate", "datasets",
                     "bitsandbytes", "scikit-learn", "datasketch")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a training run (those installed)."""
    found = {}
    for name in MANIFEST_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def adapter_kind(config: TuneConfig) -> str:
    """``lora``, ``dora``, ``qlora`` or ``qlora+dora``."""
    kind = "qlora" if config.adapter.qlora else "lora"
    return f"{kind}+dora" if config.adapter.dora and config.adapter.qlora else "dora" if config.adapter.dora else kind


def _finite(points: list[LossPoint]) -> list[float]:
    return [point.loss for point in points if point.loss is not None]


def loss_summary(result: TrainResult) -> dict[str, float | None]:
    """First, last and best (lowest) training and evaluation losses."""
    train, evals = _finite(result.train_loss), _finite(result.eval_loss)
    return {"first_train_loss": train[0] if train else None, "last_train_loss": train[-1] if train else None,
            "first_eval_loss": evals[0] if evals else None, "last_eval_loss": evals[-1] if evals else None,
            "best_eval_loss": min(evals) if evals else None}


def training_section(config: TuneConfig, base: TrainingBase, result: TrainResult, *, run_id: str,
                     output_fingerprint: str, verdicts: list[CurveVerdict]) -> TrainingSection:
    """The scorecard section of a training run."""
    return TrainingSection(
        method=config.method, adapter=adapter_kind(config), base=base.checkpoint.spec,
        base_fingerprint=base.checkpoint.fingerprint, output=str(result.adapter_dir),
        output_fingerprint=output_fingerprint, training_run=run_id, steps=result.steps, epochs=result.epochs,
        best_step=result.best_step, summary=loss_summary(result), train_loss=result.train_loss,
        eval_loss=result.eval_loss, verdicts=verdicts)


def save_training_run(folder: Path, base: TrainingBase, result: TrainResult, section: TrainingSection,
                      seconds: float) -> Scorecard:
    """Write the training run's scorecard (the base model, no tasks, the training section) and an empty items file.

    Args:
        folder: the run folder (from :func:`evalkit.store.start_run`).
        base: the trained base model.
        result: the training result.
        section: its training section.
        seconds: wall time of the training.

    Returns:
        The saved scorecard.
    """
    checkpoint = base.checkpoint
    scorecard = Scorecard(
        run_id=section.training_run, created_at=datetime.now(UTC), suite=f"tune:{section.method}",
        checkpoint=CheckpointInfo(spec=checkpoint.spec, kind=checkpoint.kind, fingerprint=checkpoint.fingerprint,
                                  dtype=result.precision, backend="trl"),
        environment=capture_environment(result.device), tasks=[], training=section,
        timings={"train": round(seconds, 3), "total": round(seconds, 3)}, items_path=str(folder / "items.jsonl"))
    write_items(folder / "items.jsonl", [])
    scorecard.save(folder / "scorecard.json")
    return scorecard


def attach_training(run: RunInput, section: TrainingSection) -> RunInput:
    """Copy a training section into a finished scoring run's scorecard (rewritten atomically)."""
    scorecard = run.scorecard.model_copy(update={"training": section})
    scorecard.save(run.scorecard_path)
    return RunInput(source=run.source, scorecard=scorecard, scorecard_path=run.scorecard_path)


def build_manifest(config: TuneConfig, section: TrainingSection, data: dict[str, Any], *, precision: str,
                   device: str) -> dict[str, Any]:
    """The trained adapter's manifest: base and its fingerprint, data hashes, config, seed, package versions, losses
    and curve verdicts.

    Args:
        config: the tune config.
        section: the training section (adapter, losses, verdicts, run id).
        data: the data hashes and split description.
        precision: the training precision.
        device: the training device.

    Returns:
        A JSON-serialisable manifest.
    """
    return {
        "spec": section.output, "fingerprint": section.output_fingerprint, "kind": "adapter", "base": section.base,
        "base_fingerprint": section.base_fingerprint, "method": config.method, "adapter": section.adapter,
        "data": data, "seed": config.training.seed, "config": config.model_dump(mode="json"),
        "packages": package_versions(), "device": device, "precision": precision,
        "training_run": section.training_run, "steps": section.steps, "epochs": section.epochs,
        "best_step": section.best_step, "losses": {
            "summary": section.summary, "train": [point.model_dump() for point in section.train_loss],
            "eval": [point.model_dump() for point in section.eval_loss]},
        "curve_verdicts": [verdict.model_dump() for verdict in section.verdicts],
    }


def merged_manifest(manifest: dict[str, Any], *, spec: str, fingerprint: str) -> dict[str, Any]:
    """The manifest of the base with the adapter merged in: the adapter's, naming the merged folder."""
    return {**manifest, "spec": spec, "fingerprint": fingerprint, "kind": "merged",
            "merged_from": manifest["fingerprint"]}


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` into the output folder (beside the adapter, not in it: the adapter's fingerprint
    covers its own JSON files), atomically."""
    path = folder / "manifest.json"
    write_text_atomic(path, json.dumps(manifest, indent=2) + "\n")
    return path
