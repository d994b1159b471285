"""The pre-deploy gate: a policy of checks over a candidate Scorecard (and a baseline), with paired statistics,
that passes, fails, or refuses to decide (fail closed)."""

from evalkit.gate.checks import CHECK_KINDS, AbsoluteCheck, RelativeCheck, TasksPresentCheck
from evalkit.gate.command import GateRequest, gate_command
from evalkit.gate.engine import run_gate
from evalkit.gate.history import load_gate_result, save_gate_result
from evalkit.gate.inputs import RunInput, load_run
from evalkit.gate.paths import known_metric_paths, lookup_metric, parse_metric_path
from evalkit.gate.policy import Policy, PolicyFile, load_policy
from evalkit.gate.result import CheckResult, Evidence, GateResult

__all__ = ["CHECK_KINDS", "AbsoluteCheck", "CheckResult", "Evidence", "GateRequest", "GateResult", "Policy",
           "PolicyFile", "RelativeCheck", "RunInput", "TasksPresentCheck", "gate_command", "known_metric_paths",
           "load_gate_result", "load_policy", "load_run", "lookup_metric", "parse_metric_path", "run_gate",
           "save_gate_result"]
