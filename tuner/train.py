"""Training with TRL's ``SFTTrainer`` / ``DPOTrainer`` and a PEFT LoRA (or DoRA, or QLoRA) adapter.

The trainers do the work; this module only maps the tune config onto their arguments: AdamW (paged AdamW with
QLoRA), warm-up then linear decay, gradient clipping, evaluation and a checkpoint every epoch (or every
``eval_steps``), early stopping with patience that keeps the best checkpoint, a fixed seed, and bf16 only on a CUDA
GPU that supports it (on CPUs it measured about 3x slower than fp32). Every logged training and evaluation loss is
appended to ``losses.jsonl`` in the run folder as it happens.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from evalkit.scorecard import LossPoint
from tuner.base import TrainingBase
from tuner.config import TuneConfig
from tuner.data.schema import Example, Layout
from tuner.errors import TuneError


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced.

    Attributes:
        adapter_dir: the saved adapter (the best checkpoint when early stopping kept one).
        train_loss: training losses by step.
        eval_loss: evaluation losses by step.
        steps: optimizer steps taken.
        epochs: epochs completed (fractional).
        best_step: the step of the best checkpoint, if one was kept.
        precision: fp32, bf16 or fp16.
        device: cuda or cpu.
    """

    adapter_dir: Path
    train_loss: list[LossPoint]
    eval_loss: list[LossPoint]
    steps: int
    epochs: float
    best_step: int | None
    precision: str
    device: str


class LossRecorder(TrainerCallback):
    """Collects every logged training and evaluation loss and appends each to a JSONL file as it is logged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.train: list[LossPoint] = []
        self.eval: list[LossPoint] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
               **kwargs: Any) -> None:
        """Record ``loss`` (training) and ``eval_loss`` from one log event."""
        for key, kind, target in (("loss", "train", self.train), ("eval_loss", "eval", self.eval)):
            if logs and key in logs:
                value = float(logs[key])
                point = LossPoint(step=state.global_step, epoch=logs.get("epoch"),
                                  loss=value if math.isfinite(value) else None)
                target.append(point)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"kind": kind, **point.model_dump()}) + "\n")


class StepProgress(TrainerCallback):
    """Moves a progress bar per optimizer step and shows the latest training and evaluation losses."""

    def __init__(self, advance: Callable[[int, int, str], None], notify: Callable[[str], None]) -> None:
        self.advance = advance
        self.notify = notify
        self.latest: dict[str, float] = {}

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
               **kwargs: Any) -> None:
        """Show the step count and the last losses."""
        self.latest.update({key: float(logs[key]) for key in ("loss", "eval_loss") if logs and key in logs})
        losses = ", ".join(f"{key} {value:.4f}" for key, value in self.latest.items())
        self.advance(state.global_step, state.max_steps, "")
        self.notify(f"training step {state.global_step}/{state.max_steps}: {losses}")


@contextmanager
def quiet_training() -> Iterator[None]:
    """Silence what TRL, transformers and datasets print besides errors during training (per-map progress bars,
    weight-loading bars, deprecation warnings), so the training progress bar is the only output."""
    import datasets
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()
        datasets.enable_progress_bars()


def require_qlora() -> None:
    """Check that QLoRA can run here: a CUDA GPU and the bitsandbytes package.

    Raises:
        TuneError: one line naming what is missing and the way out.
    """
    import torch

    missing = []
    if not torch.cuda.is_available():
        missing.append("no CUDA GPU is visible")
    if importlib.util.find_spec("bitsandbytes") is None:
        missing.append("bitsandbytes is not installed (pip install 'evalkit-gate[qlora]')")
    if missing:
        raise TuneError(f"qlora: true needs a CUDA GPU and bitsandbytes, but {' and '.join(missing)}: set "
                        "adapter.qlora: false to train a LoRA on the full-precision base")


def choose_precision(config: TuneConfig) -> tuple[str, str]:
    """The device and the precision to train in.

    Returns:
        ``(device, precision)``: ``cuda`` or ``cpu``, and ``fp32``, ``bf16`` or ``fp16``.
    """
    import torch

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    wanted = config.training.precision
    if wanted == "auto":
        return device, "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if wanted == "fp16" and not cuda:
        raise TuneError("training.precision: fp16 needs a CUDA GPU: use auto or fp32 on this machine")
    return device, wanted


def trl_rows(examples: list[Example], layout: Layout) -> list[dict[str, Any]]:
    """The examples in the columns TRL reads: prompt/completion, messages, or prompt/chosen/rejected."""
    if layout == "preference":
        return [{"prompt": item.prompt, "chosen": item.response, "rejected": item.rejected} for item in examples]
    if layout == "messages":
        return [{"messages": item.chat()} for item in examples]
    return [{"prompt": item.prompt, "completion": item.response} for item in examples]


def _optimizer(config: TuneConfig) -> str:
    if config.training.optimizer != "auto":
        return config.training.optimizer
    return "paged_adamw_32bit" if config.adapter.qlora else "adamw_torch"


def trainer_arguments(config: TuneConfig, checkpoints: Path, *, device: str, precision: str) -> Any:
    """The TRL config (``SFTConfig`` or ``DPOConfig``) for a tune config.

    Args:
        config: the tune config.
        checkpoints: where the trainer saves its per-epoch checkpoints.
        device: ``cuda`` or ``cpu``.
        precision: ``fp32``, ``bf16`` or ``fp16``.

    Returns:
        The TRL config.
    """
    from trl import DPOConfig, SFTConfig

    training = config.training
    dtype = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[precision]
    arguments: dict[str, Any] = {
        "output_dir": str(checkpoints), "num_train_epochs": training.epochs, "max_steps": training.max_steps or -1,
        "per_device_train_batch_size": training.batch_size, "per_device_eval_batch_size": training.batch_size,
        "gradient_accumulation_steps": training.gradient_accumulation_steps,
        "learning_rate": training.learning_rate, "lr_scheduler_type": training.scheduler,
        "warmup_steps": training.warmup_ratio, "optim": _optimizer(config), "weight_decay": training.weight_decay,
        "max_grad_norm": training.max_grad_norm, "max_length": training.max_length,
        "eval_strategy": training.eval_strategy, "eval_steps": training.eval_steps,
        "save_strategy": training.eval_strategy, "save_steps": training.eval_steps,
        "save_total_limit": training.save_total_limit, "load_best_model_at_end": True,
        "metric_for_best_model": "eval_loss", "greater_is_better": False, "logging_steps": training.logging_steps,
        "bf16": precision == "bf16", "fp16": precision == "fp16", "use_cpu": device == "cpu",
        "gradient_checkpointing": training.gradient_checkpointing, "seed": training.seed,
        "data_seed": training.seed, "report_to": [], "disable_tqdm": True, "log_level": "error",
        "model_init_kwargs": {"dtype": dtype},
    }
    if config.method == "dpo":
        return DPOConfig(**arguments, beta=training.beta)
    return SFTConfig(**arguments)


def _quantization(precision: str) -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    compute = torch.bfloat16 if precision == "bf16" else torch.float16
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute)


def build_trainer(config: TuneConfig, base: TrainingBase, train_rows: list[dict[str, Any]],
                  eval_rows: list[dict[str, Any]], *, run_folder: Path, device: str, precision: str,
                  progress: StepProgress) -> tuple[Any, LossRecorder]:
    """Build the TRL trainer with its PEFT adapter and callbacks.

    Args:
        config: the tune config.
        base: the base model.
        train_rows: training examples in TRL's columns.
        eval_rows: evaluation examples in TRL's columns.
        run_folder: the training run's folder (``losses.jsonl`` goes there).
        device: ``cuda`` or ``cpu``.
        precision: ``fp32``, ``bf16`` or ``fp16``.
        progress: the progress callback.

    Returns:
        The trainer and the loss recorder attached to it.
    """
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer, EarlyStoppingCallback, PrinterCallback
    from trl import DPOTrainer, SFTTrainer

    adapter = config.adapter
    peft_config = LoraConfig(r=adapter.r, lora_alpha=adapter.alpha, lora_dropout=adapter.dropout,
                             target_modules=adapter.target_modules, use_dora=adapter.dora, task_type="CAUSAL_LM")
    recorder = LossRecorder(run_folder / "losses.jsonl")
    callbacks: list[Any] = [recorder, progress]
    if config.training.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.training.early_stopping_patience))
    trainer_class = DPOTrainer if config.method == "dpo" else SFTTrainer
    trainer = trainer_class(
        model=str(base.folder), processing_class=AutoTokenizer.from_pretrained(base.folder),
        args=trainer_arguments(config, config.output.dir / "checkpoints", device=device, precision=precision),
        train_dataset=Dataset.from_list(train_rows), eval_dataset=Dataset.from_list(eval_rows),
        peft_config=peft_config, quantization_config=_quantization(precision) if adapter.qlora else None,
        callbacks=callbacks)
    trainer.remove_callback(PrinterCallback)  # it prints every log dict; the progress bar shows the losses
    return trainer, recorder


def save_adapter(trainer: Any, target: Path, base_reference: str) -> None:
    """Save the trained adapter (and tokenizer) and point its ``base_model_name_or_path`` at the base's evalkit spec,
    so that ``evalkit score`` resolves it anywhere. The folder is written beside ``target`` and renamed into place.

    Args:
        trainer: the trained TRL trainer.
        target: the adapter folder (must not exist).
        base_reference: the base's spec or absolute path.
    """
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    trainer.save_model(str(staging))
    config_file = staging / "adapter_config.json"
    adapter_config = json.loads(config_file.read_text(encoding="utf-8"))
    adapter_config["base_model_name_or_path"] = base_reference
    config_file.write_text(json.dumps(adapter_config, indent=2), encoding="utf-8")
    os.replace(staging, target)


def train(config: TuneConfig, base: TrainingBase, train_rows: list[dict[str, Any]], eval_rows: list[dict[str, Any]],
          *, run_folder: Path, console: Any, quiet: bool) -> TrainResult:
    """Train, then save the adapter into ``output.dir/adapter``.

    Args:
        config: the tune config.
        base: the base model.
        train_rows: training examples in TRL's columns.
        eval_rows: evaluation examples in TRL's columns.
        run_folder: the training run's folder.
        console: where the progress bar is drawn (stderr).
        quiet: no progress bar.

    Returns:
        The :class:`TrainResult`.
    """
    from evalkit.progress import task_progress

    device, precision = choose_precision(config)
    with task_progress(console=console, quiet=quiet) as (notify, advance), quiet_training():
        notify(f"loading {base.checkpoint.spec} for {config.method} training on {device} ({precision})")
        trainer, recorder = build_trainer(config, base, train_rows, eval_rows, run_folder=run_folder, device=device,
                                          precision=precision, progress=StepProgress(advance, notify))
        trainer.train()
        adapter_dir = config.output.dir / "adapter"
        save_adapter(trainer, adapter_dir, base.reference)
    state = trainer.state
    best = getattr(state, "best_global_step", None)
    return TrainResult(adapter_dir, recorder.train, recorder.eval, int(state.global_step), float(state.epoch or 0.0),
                       int(best) if best else None, precision, device)
