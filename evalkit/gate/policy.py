"""Gate policies: YAML files validated into a :class:`Policy`, with errors that name the field and the fix.

```yaml
name: quick
suite: quick                 # what --score scores the candidate with; tasks_present expects its tasks
confidence: 0.95             # two-sided level of the intervals of relative checks
holm: false                  # Holm's correction of the relative checks' failures (see engine.apply_holm)
on_inconclusive: block       # or warn: an inconclusive block check does not stop the gate
checks:
  - {name: arc-floor, kind: absolute, metric: evalkit_arc_easy.acc, op: ">=", value: 0.25}
  - {name: arc-no-regression, kind: relative, metric: evalkit_arc_easy.acc, max_drop: 0.05}
  - {name: all-tasks, kind: tasks_present, severity: warn}
```
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evalkit.errors import GateError
from evalkit.gate.checks import CHECK_KINDS, Check
from evalkit.suites import Suite, load_suite
from evalkit.yamlfile import read_yaml_mapping


class Policy(BaseModel):
    """A gate policy: settings and checks."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    suite: str | None = Field(default=None, description="Built-in suite name or suite YAML (relative to the policy); "
                               "several joined by commas, e.g. quick,safety.")
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    holm: bool = Field(default=False, description="Holm's correction of relative failures across checks.")
    on_inconclusive: Literal["block", "warn"] = "block"
    bootstrap_resamples: int = Field(default=10_000, ge=1_000, le=1_000_000)
    seed: int = Field(default=0, description="Seed of the paired bootstrap.")
    repeats: int = Field(default=1, ge=1, le=20, description="Runs per model for stochastic scorers (sampling, LLM "
                         "judges): --score scores each model this many times (seeds seed, seed+1, ...) and checks "
                         "whose difference is within the runs' spread are inconclusive.")
    checks: list[Check] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Policy:
        seen: set[str] = set()
        for check in self.checks:
            if check.name in seen:
                raise ValueError(f"two checks are named {check.name!r}: give each check its own name")
            seen.add(check.name)
        return self


@dataclass(frozen=True)
class PolicyFile:
    """A loaded policy with where it came from and the suite it names."""

    policy: Policy
    path: Path
    sha256: str
    suite: Suite | None

    def expected_tasks(self) -> tuple[str, ...]:
        """The suite's task names, else the tasks the checks name."""
        if self.suite is not None:
            safety_sets = self.suite.safety.sets if self.suite.safety else []
            return (*(_task_name(entry.task) for entry in self.suite.tasks),
                    *(f"safety_{name}" for name in safety_sets))
        named: set[str] = set()
        for check in self.policy.checks:
            named |= check.named_tasks()
        return tuple(sorted(named))


class _IgnoreTags(yaml.SafeLoader):
    """Reads lm-eval task YAMLs for their ``task`` name, skipping ``!function`` tags."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def _task_name(entry: str) -> str:
    if entry.endswith((".yaml", ".yml")) and Path(entry).is_file():
        config = yaml.load(Path(entry).read_text(encoding="utf-8"), Loader=_IgnoreTags)
        if isinstance(config, dict) and isinstance(config.get("task"), str):
            return config["task"]
    return entry


def _where(raw: Any, loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for index, part in enumerate(loc):
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
            if loc[:index] == ("checks",) and isinstance(raw, dict):
                checks = raw.get("checks")
                if isinstance(checks, list) and part < len(checks) and isinstance(checks[part], dict):
                    parts[-1] += f" ({checks[part].get('name', 'unnamed')})"
        elif not (index == 2 and loc[0] == "checks" and part in CHECK_KINDS):
            parts.append(str(part))
    return ".".join(parts) or "top level"


def _message(error: dict[str, Any]) -> str:
    kinds = ", ".join(CHECK_KINDS)
    if error["type"] == "union_tag_not_found":
        return f"missing kind: give kind: one of {kinds}"
    if error["type"] == "union_tag_invalid":
        return f"unknown kind {error['input'].get('kind')!r}: use one of {kinds}"
    if error["type"] == "extra_forbidden":
        return "unknown field: check its spelling against the policy schema (evalkit/gate/policy.py)"
    if error["type"] == "missing":
        return "required field missing"
    return str(error["msg"]).removeprefix("Value error, ")


def _resolve_suite(policy: Policy, folder: Path) -> Suite | None:
    if policy.suite is None:
        return None
    names = []
    for name in (part.strip() for part in policy.suite.split(",")):
        if name.endswith((".yaml", ".yml")) and not Path(name).is_absolute() and (folder / name).is_file():
            name = str(folder / name)
        names.append(name)
    return load_suite(",".join(names))


def load_policy(path: Path) -> PolicyFile:
    """Read and validate a policy YAML file.

    Args:
        path: the policy file.

    Returns:
        The :class:`PolicyFile`.

    Raises:
        GateError: the file is missing, not YAML, or invalid (the message names the field).
        TaskError: the suite it names is unknown.
    """
    raw = read_yaml_mapping(path, what="policy", error=GateError,
                            needs="it needs name: and checks: at the top level")
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise GateError(f"policy {path} is invalid at {_where(raw, tuple(first['loc']))}: {_message(first)}{more}") \
            from None
    return PolicyFile(policy, path, hashlib.sha256(path.read_bytes()).hexdigest(), _resolve_suite(policy, path.parent))
