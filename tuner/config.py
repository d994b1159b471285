"""The ``evalkit tune`` config: one YAML file validated into a :class:`TuneConfig`. Every field and default is written
out in ``examples/tuner/sft.yaml``; relative paths are relative to the config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evalkit.yamlfile import first_error, read_yaml_mapping
from tuner.curves import CurveSettings
from tuner.data.balance import Balance
from tuner.data.preflight import PreflightOptions
from tuner.errors import TuneError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Where the training data is and how it is checked and split."""

    path: Path = Field(description="JSONL, CSV, Parquet or a saved dataset (see evalkit data check).")
    eval_path: Path | None = Field(default=None, description="A separate evaluation file; default: split path.")
    eval_fraction: float = Field(default=0.2, gt=0, lt=1, description="Evaluation share of the split (80:20).")
    balance: Balance | None = Field(default=None, description="oversample or undersample the training split.")
    preflight: PreflightOptions = Field(default_factory=PreflightOptions)


class AdapterConfig(_Strict):
    """The PEFT adapter."""

    r: int = Field(default=16, ge=1, description="LoRA rank.")
    alpha: int = Field(default=32, ge=1, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = Field(default="all-linear", description="Module names, or "
                                                              "all-linear (every linear layer but the output head).")
    dora: bool = Field(default=False, description="DoRA: magnitude and direction, LoRA on the direction.")
    qlora: bool = Field(default=False, description="4-bit NF4 base with double quantization and paged AdamW; needs "
                        "CUDA and bitsandbytes.")


class TrainingConfig(_Strict):
    """Optimisation, evaluation and checkpointing (the guide's defaults)."""

    epochs: float = Field(default=5, gt=0, description="The guide: checkpoints across 5 to 8 epochs.")
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many steps (overrides epochs).")
    batch_size: int = Field(default=4, ge=1, description="Examples per device per step.")
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    learning_rate: float = Field(default=2e-4, gt=0, description="The guide: 1e-4 to 2e-4.")
    scheduler: Literal["linear", "cosine", "constant_with_warmup"] = Field(default="linear", description="After "
                                                                           "warm-up: linear decay by default.")
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1, description="Share of the steps spent warming up.")
    optimizer: Literal["auto", "adamw_torch", "paged_adamw_32bit", "paged_adamw_8bit"] = Field(
        default="auto", description="auto: adamw_torch, or paged_adamw_32bit with qlora.")
    weight_decay: float = Field(default=0.0, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0, description="Gradient clipping.")
    max_length: int = Field(default=1024, ge=8, description="Tokens per example; longer ones are truncated.")
    eval_strategy: Literal["epoch", "steps"] = Field(default="epoch", description="Evaluate and save a checkpoint "
                                                     "every epoch, or every eval_steps.")
    eval_steps: int | None = Field(default=None, ge=1, description="With eval_strategy: steps.")
    early_stopping_patience: int | None = Field(default=2, ge=1, description="Evaluations without improvement "
                                                "before stopping; null turns early stopping off.")
    save_total_limit: int | None = Field(default=None, ge=1, description="Checkpoints kept (null: all).")
    logging_steps: int = Field(default=1, ge=1, description="Steps between recorded training losses.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(default="auto", description="auto: bf16 on a CUDA "
                                                               "GPU that supports it, else fp32.")
    gradient_checkpointing: bool = Field(default=False, description="Trade compute for memory.")
    beta: float = Field(default=0.1, gt=0, description="DPO only: strength of the pull towards the base model.")
    seed: int = 42

    @model_validator(mode="after")
    def _eval_steps_given(self) -> TrainingConfig:
        if self.eval_strategy == "steps" and self.eval_steps is None:
            raise ValueError("eval_strategy: steps needs eval_steps: N")
        return self


class OutputConfig(_Strict):
    """Where the adapter goes."""

    dir: Path = Field(default=Path("tuned"), description="Adapter, checkpoints and manifest.json.")
    merge: bool = Field(default=False, description="Also save the base with the adapter merged in (a separate "
                        "registry version, gated on its own).")


class PromotionConfig(_Strict):
    """What happens after training: score, register, and gate against the alias."""

    policy: Path | None = Field(default=None, description="Gate policy; null registers the version without "
                                "scoring or promoting it.")
    alias: Literal["candidate", "production"] = "production"


class TuneConfig(_Strict):
    """A fine-tuning run."""

    base: str = Field(default="smollm2", description="Any evalkit checkpoint spec of a full local model.")
    method: Literal["sft", "dpo"] = "sft"
    data: DataConfig
    adapter: AdapterConfig = Field(default_factory=AdapterConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    curves: CurveSettings = Field(default_factory=CurveSettings)
    output: OutputConfig = Field(default_factory=OutputConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)


def _rebase(config: TuneConfig, folder: Path) -> TuneConfig:
    """Make the config's relative paths relative to its folder (the base spec too, when that path exists)."""
    def here(path: Path) -> Path:
        return path if path.is_absolute() else folder / path

    data = config.data.model_copy(update={
        "path": here(config.data.path), "eval_path": here(config.data.eval_path) if config.data.eval_path else None,
        "preflight": config.data.preflight.model_copy(update={
            "against": [here(path) for path in config.data.preflight.against]})})
    base = str(folder / config.base) if (folder / config.base).exists() else config.base
    policy = here(config.promotion.policy) if config.promotion.policy else None
    return config.model_copy(update={
        "base": base, "data": data, "output": config.output.model_copy(update={"dir": here(config.output.dir)}),
        "promotion": config.promotion.model_copy(update={"policy": policy})})


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "top level"


def load_config(path: Path) -> TuneConfig:
    """Read and validate a tune config.

    Args:
        path: the YAML file.

    Returns:
        The :class:`TuneConfig` with paths made relative to the file's folder.

    Raises:
        TuneError: the file is missing, not YAML, or invalid (the message names the field).
    """
    raw = read_yaml_mapping(path, what="tune config", error=TuneError, needs="it needs at least data: {path: ...}")
    try:
        config = TuneConfig.model_validate(raw)
    except ValidationError as error:
        location, message, more = first_error(error)
        if error.errors()[0]["type"] == "extra_forbidden":
            message = "unknown field: check its spelling against examples/tuner/sft.yaml"
        raise TuneError(f"tune config {path} is invalid at {_where(location)}: {message}{more}") from None
    return _rebase(config, path.resolve().parent)
