"""``absolute``: a metric of the candidate against a fixed threshold, e.g. ``evalkit_arc_easy.acc >= 0.30``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from evalkit.gate.checks.base import CheckBase, GateContext, noise_verdict
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
        return set() if path.seed or path.task in ("safety", "rag") else {path.task}

    def evaluate(self, context: GateContext) -> CheckResult:
        path = parse_metric_path(self.metric)
        found = lookup_metric(context.candidate.scorecard, path, role="candidate")
        if found.unreliable:
            return self._result("inconclusive", found.unreliable, Evidence(metric=self.metric, n=found.n, op=self.op,
                                                                           threshold=self.value))
        holds = found.value >= self.value if self.op == ">=" else found.value <= self.value
        spread = context.spread(path, relative=False)
        verdict, noise = noise_verdict("pass" if holds else "fail", found.value - self.value, spread,
                                       len(context.candidate_repeats))
        evidence = Evidence(metric=self.metric, candidate=found.value, stderr=found.stderr, n=found.n, op=self.op,
                            threshold=self.value, repeats=len(context.candidate_repeats) or None, run_spread=spread,
                            within_noise=bool(noise) if spread is not None else None)
        broken = "<" if self.op == ">=" else ">"
        reason = (f"{found.value:.4f} {self.op} {self.value:g}" if holds
                  else f"{found.value:.4f} {broken} {self.value:g} (needs {self.op} {self.value:g})")
        return self._result(verdict, f"{reason}; {noise}" if noise else reason, evidence)
