"""``absolute``: a metric of the candidate against a fixed threshold, e.g. ``evalkit_arc_easy.acc >= 0.30``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from evalkit.gate.checks.base import CheckBase, GateContext
from evalkit.gate.paths import lookup_metric, parse_metric_path
from evalkit.gate.result import CheckResult, Evidence


class AbsoluteCheck(CheckBase):
    """Pass when ``candidate[metric] op value`` holds; fail otherwise. No statistics: the threshold is the rule."""

    kind: Literal["absolute"] = "absolute"
    metric: str = Field(description="A metric path, e.g. evalkit_arc_easy.acc or perplexity.")
    op: Literal[">=", "<="] = Field(description=">= for a floor, <= for a ceiling.")
    value: float = Field(description="The threshold.")

    @field_validator("metric")
    @classmethod
    def _is_a_path(cls, metric: str) -> str:
        parse_metric_path(metric)
        return metric

    def named_tasks(self) -> set[str]:
        path = parse_metric_path(self.metric)
        return set() if path.seed else {path.task}

    def evaluate(self, context: GateContext) -> CheckResult:
        found = lookup_metric(context.candidate.scorecard, parse_metric_path(self.metric), role="candidate")
        holds = found.value >= self.value if self.op == ">=" else found.value <= self.value
        evidence = Evidence(metric=self.metric, candidate=found.value, stderr=found.stderr, n=found.n, op=self.op,
                            threshold=self.value)
        if holds:
            return self._result("pass", f"{found.value:.4f} {self.op} {self.value:g}", evidence)
        broken = "<" if self.op == ">=" else ">"
        return self._result("fail", f"{found.value:.4f} {broken} {self.value:g} (needs {self.op} {self.value:g})",
                            evidence)
