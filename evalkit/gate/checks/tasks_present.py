"""``tasks_present``: every task the policy expects is in the candidate's scorecard."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from evalkit.errors import GateError
from evalkit.gate.checks.base import CheckBase, GateContext
from evalkit.gate.paths import all_tasks
from evalkit.gate.result import CheckResult, Evidence


class TasksPresentCheck(CheckBase):
    """Fail when a task is missing from the candidate.

    Without ``tasks``, the expected tasks are the policy suite's tasks, or, when the policy names no suite, the
    tasks its other checks name. Names are compared with the scorecard's task names: for an lm-eval group
    (e.g. ``mmlu``), list its subtasks here.
    """

    kind: Literal["tasks_present"] = "tasks_present"
    tasks: list[str] | None = Field(default=None, description="Task names; default: the suite's or the checks'.")

    def named_tasks(self) -> set[str]:
        return set(self.tasks or ())

    def evaluate(self, context: GateContext) -> CheckResult:
        expected = list(self.tasks) if self.tasks else list(context.expected_tasks)
        present = {task.name for task in all_tasks(context.candidate.scorecard)}
        missing = [task for task in expected if task not in present]
        evidence = Evidence(n=len(expected), expected_tasks=expected, missing_tasks=missing)
        if not expected:
            raise GateError(f"check {self.name!r} has no tasks to expect: list them under tasks: or name a suite")
        if missing:
            return self._result("fail", f"{len(missing)} of {len(expected)} tasks missing: {', '.join(missing)}",
                                evidence)
        return self._result("pass", f"all {len(expected)} expected tasks present", evidence)
