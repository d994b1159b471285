"""The monitor's YAML config: system prompts, thresholds, screening, drift settings, sinks, alert rules and the
retrain command. ``examples/monitor/monitor.yaml`` shows every option with its default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evalkit.home import evalkit_home
from evalkit.pii import PII_KINDS
from evalkit.yamlfile import first_error, read_yaml_mapping
from monitor._errors import MonitorError
from monitor.catalog import has_baseline_value, require_window_metric
from monitor.windows import parse_duration

DEFAULT_CONFIG = Path(__file__).parent / "data" / "default_config.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Thresholds(_Strict):
    """A request is flagged when its score is at or above the threshold (see ``monitor.catalog.FLAG_COLUMNS``).

    The similarity defaults were measured with MiniLM: benign shop and coding prompts reached at most 0.36 to the
    injection set and 0.33 to the jailbreak set; paraphrased attacks (not in the set) 0.39-0.60 and 0.41-0.59. Known
    injection phrasings are flagged by pattern whatever their similarity.
    """

    refusal: float = Field(0.5, ge=0, le=1)
    unsafe: float = Field(0.5, ge=0, le=1)
    injection: float = Field(0.6, ge=0, le=1)
    jailbreak: float = Field(0.5, ge=0, le=1)
    leakage: float = Field(0.3, ge=0, le=1)


class ScreenSettings(_Strict):
    """What blocks a response before delivery (``evalkit monitor screen``) and puts a logged one on the block list."""

    block_unsafe: bool = True
    block_pii: list[str] = Field(default_factory=lambda: ["email", "phone", "credit_card", "us_ssn", "iban"])
    block_leakage: bool = True

    @field_validator("block_pii")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        unknown = sorted(set(kinds) - set(PII_KINDS))
        if unknown:
            raise ValueError(f"unknown PII kinds {unknown}; known: {', '.join(PII_KINDS)}")
        return kinds


class DriftSettings(_Strict):
    """How each window is compared with the reference."""

    min_rows: int = Field(50, ge=2, description="Windows with fewer rows are skipped.")
    max_rows: int = Field(5000, ge=100, description="Rows per side sampled for text and embedding drift.")
    text: bool = True
    embeddings: bool = True
    numeric_method: str | None = Field("wasserstein", description="Evidently stat test for descriptors. The default, "
                                       "normed Wasserstein distance, means the same (higher = more drift) at any "
                                       "reference size; None lets Evidently pick (KS p-values, lower = drift, below "
                                       "1,000 reference rows).")
    numeric_threshold: float | None = None
    text_threshold: float | None = Field(None, description="Domain-classifier ROC AUC above which text drifts.")
    embedding_threshold: float = Field(0.55, gt=0.5, le=1)
    embedding_components: int = Field(32, ge=0, le=384, description="Principal components of the reference's "
                                      "embeddings that embedding drift runs on (0: the full vectors).")
    drift_share: float = Field(0.5, gt=0, le=1)
    embedding_plot: Literal["pca", "tsne"] = Field("pca", description="Projection of Evidently's embedding plot.")
    embedding_plot_points: int = Field(500, ge=50, le=2500, description="Rows per side drawn in that plot.")
    seed: int = 0


class _Delivery(_Strict):
    retries: int = Field(3, ge=0, le=10, description="Attempts after the first one.")
    backoff_s: float = Field(0.5, ge=0, description="Wait before the first retry; doubles each retry.")
    timeout_s: float = Field(5.0, gt=0)


class WebhookSink(_Delivery):
    """A JSON POST of the alert to any URL."""

    type: Literal["webhook"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)


class SlackSink(_Delivery):
    """A Slack-compatible incoming-webhook payload (``text`` plus ``blocks``)."""

    type: Literal["slack"]
    url: str
    channel: str | None = None
    username: str | None = None


class EmailSink(_Delivery):
    """An email over SMTP; the password is read from the environment variable ``password_env``."""

    type: Literal["email"]
    host: str
    port: int = 25
    sender: str
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password_env: str | None = None
    starttls: bool = False


class FileSink(_Delivery):
    """One JSON line per alert appended to a local file (a relative path is under ``$EVALKIT_HOME/monitor/``)."""

    type: Literal["file"]
    path: Path


Sink = Annotated[WebhookSink | SlackSink | EmailSink | FileSink, Field(discriminator="type")]


class AlertRule(_Strict):
    """Fire when ``metric op threshold`` holds for ``for`` consecutive windows, at most once per ``cooldown``.

    With ``against: baseline`` the rule compares the window's value minus the baseline's value of the same metric
    (e.g. ``unsafe_response_rate`` more than 0.05 above the reference), which keeps a detector's own base rate
    from raising alarms.
    """

    name: str = Field(min_length=1)
    description: str = ""
    metric: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    threshold: float
    against: Literal["absolute", "baseline"] = "absolute"
    for_windows: int = Field(1, ge=1, alias="for")
    severity: Literal["info", "warning", "critical"] = "warning"
    cooldown: str = "0s"
    sinks: list[str] = Field(default_factory=list)
    action: Literal["retrain"] | None = None
    send_resolved: bool = False

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        return require_window_metric(metric)

    @model_validator(mode="after")
    def _baseline_metric(self) -> AlertRule:
        if self.against == "baseline" and not has_baseline_value(self.metric):
            raise ValueError(f"metric {self.metric!r} is already relative to the baseline: use against: absolute")
        return self

    @field_validator("cooldown")
    @classmethod
    def _duration(cls, cooldown: str) -> str:
        try:
            parse_duration(cooldown)
        except MonitorError as error:
            raise ValueError(str(error)) from None
        return cooldown

    @property
    def cooldown_s(self) -> float:
        """The cooldown in seconds."""
        return parse_duration(self.cooldown).total_seconds()


class RetrainSettings(_Strict):
    """The command that an ``action: retrain`` rule runs, once per incident."""

    command: str = Field(min_length=1)
    wait: bool = Field(False, description="Wait for the command (and record its exit code) instead of starting it "
                                          "in the background.")
    timeout_s: float | None = Field(None, gt=0)
    cwd: Path | None = None


class MonitorConfig(_Strict):
    """The whole monitor config (one YAML file)."""

    embedder: str = "minilm"
    system_prompts: list[str] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    screen: ScreenSettings = Field(default_factory=ScreenSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    sinks: dict[str, Sink] = Field(default_factory=dict)
    rules: list[AlertRule] = Field(default_factory=list)
    retrain: RetrainSettings | None = None

    @model_validator(mode="after")
    def _references(self) -> MonitorConfig:
        names: set[str] = set()
        for rule in self.rules:
            if rule.name in names:
                raise ValueError(f"rule name {rule.name!r} is used twice")
            names.add(rule.name)
            missing = [sink for sink in rule.sinks if sink not in self.sinks]
            if missing:
                raise ValueError(f"rule {rule.name!r} names undefined sinks {missing}; define them under sinks:")
            if rule.action == "retrain" and self.retrain is None:
                raise ValueError(f"rule {rule.name!r} has action: retrain but there is no retrain: command")
        return self


def config_path(path: Path | None) -> Path:
    """Return the config file to use: ``path``, else ``$EVALKIT_HOME/monitor/config.yaml`` when it exists, else the
    bundled default (thresholds and rules, no sinks)."""
    if path is not None:
        return path
    local = evalkit_home() / "monitor" / "config.yaml"
    return local if local.is_file() else DEFAULT_CONFIG


def load_config(path: Path | None = None) -> MonitorConfig:
    """Load and validate a monitor config.

    Args:
        path: a YAML file (``None``: see :func:`config_path`). Relative ``system_prompts`` entries that name an
            existing file (relative to the config's folder) are read from it; relative file-sink paths are
            resolved against ``$EVALKIT_HOME/monitor/``.

    Returns:
        The config.

    Raises:
        MonitorError: unreadable file, invalid YAML, or a field that fails validation (named in the message).
    """
    source = config_path(path)
    raw = read_yaml_mapping(source, what="monitor config", error=MonitorError,
                            needs="see examples/monitor/monitor.yaml", empty_ok=True)
    try:
        config = MonitorConfig.model_validate(_resolve_paths(raw, source.parent))
    except ValidationError as error:
        location, message, more = first_error(error)
        where = ".".join(str(part) for part in location) or "top level"
        raise MonitorError(f"monitor config {source} is invalid at {where}: {message}{more}") from None
    return config


def _resolve_paths(raw: dict[str, Any], folder: Path) -> dict[str, Any]:
    prompts = []
    for entry in raw.get("system_prompts") or []:
        candidate = folder / str(entry)
        is_file = isinstance(entry, str) and len(entry) < 256 and "\n" not in entry and candidate.is_file()
        prompts.append(candidate.read_text(encoding="utf-8") if is_file else entry)
    sinks = {}
    for name, sink in (raw.get("sinks") or {}).items():
        if isinstance(sink, dict) and sink.get("type") == "file" and "path" in sink:
            sink = {**sink, "path": str(evalkit_home() / "monitor" / os.path.expanduser(str(sink["path"])))}
        sinks[name] = sink
    return {**raw, **({"system_prompts": prompts} if "system_prompts" in raw else {}),
            **({"sinks": sinks} if "sinks" in raw else {})}
