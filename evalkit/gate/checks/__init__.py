"""Check kinds, registered by their ``kind`` name. Each is a pydantic model (its policy fields) with one method,
``evaluate(context) -> CheckResult``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from evalkit.gate.checks.absolute import AbsoluteCheck
from evalkit.gate.checks.base import CheckBase, GateContext
from evalkit.gate.checks.curve import CurveCheck
from evalkit.gate.checks.drift import DriftCheck
from evalkit.gate.checks.relative import RelativeCheck
from evalkit.gate.checks.tasks_present import TasksPresentCheck

CHECK_KINDS: dict[str, type[CheckBase]] = {
    "absolute": AbsoluteCheck,
    "relative": RelativeCheck,
    "tasks_present": TasksPresentCheck,
    "curve": CurveCheck,
    "drift": DriftCheck,
}

Check = Annotated[AbsoluteCheck | RelativeCheck | TasksPresentCheck | CurveCheck | DriftCheck,
                  Field(discriminator="kind")]

__all__ = ["CHECK_KINDS", "AbsoluteCheck", "Check", "CheckBase", "CurveCheck", "DriftCheck", "GateContext",
           "RelativeCheck", "TasksPresentCheck"]
