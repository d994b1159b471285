"""Views of a gate result: a terminal table, Markdown for a pull-request comment, JUnit XML for CI, and the
evidence of every check (``evalkit gate explain``).

JUnit mapping: one ``testcase`` per check. A test case is red exactly when its check stops the gate, so the
JUnit totals agree with the exit code: a blocking ``fail`` is a ``failure``, a blocking ``inconclusive`` is an
``error`` (type ``inconclusive``: the gate could not decide, which is not the same as a measured regression),
and a check that does not block (any ``warn`` check that did not pass, or an inconclusive one under
``on_inconclusive: warn``) is ``skipped`` with its verdict in the message. Every test case carries the evidence
in ``system-out``.
"""

from __future__ import annotations

from xml.etree import ElementTree

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalkit.gate.result import CheckResult, GateResult

HEADER = ["verdict", "check", "severity", "metric", "candidate", "baseline", "delta (CI)", "n", "p", "why"]
MARKS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def verdict_label(check: CheckResult) -> str:
    """``pass``, ``fail``, ``inconclusive``, with ``(blocks)`` or ``(warn only)`` when it did not pass."""
    if check.verdict == "pass":
        return "pass"
    return f"{check.verdict} ({'blocks' if check.blocks else 'warn only'})"


def check_row(check: CheckResult) -> list[str]:
    """The table row of one check (see :data:`HEADER`)."""
    evidence = check.evidence
    delta = ""
    if evidence.delta is not None:
        delta = f"{_number(evidence.delta, True)} ({_number(evidence.ci_low, True)}, {_number(evidence.ci_high, True)})"
    metric = evidence.metric or ("tasks" if evidence.expected_tasks is not None else "")
    p_value = "" if evidence.p_value is None else f"{evidence.p_value:.3g}"
    return [verdict_label(check), check.name, check.severity, metric, _number(evidence.candidate),
            _number(evidence.baseline), delta, "" if evidence.n is None else str(evidence.n), p_value, check.reason]


def summary_line(result: GateResult) -> str:
    """One line: the verdict and the counts."""
    counts = result.counts()
    return (f"{result.verdict.upper()}: {len(result.checks)} checks, {counts['pass']} pass, {counts['fail']} fail, "
            f"{counts['inconclusive']} inconclusive; {counts['blocking']} blocking")


def _runs_line(result: GateResult) -> str:
    line = f"policy `{result.policy.name}`; candidate `{result.candidate.run_id}` (`{result.candidate.spec}`)"
    if result.baseline:
        line += f"; baseline `{result.baseline.run_id}` (`{result.baseline.spec}`)"
    return line


def to_markdown(result: GateResult) -> str:
    """Markdown for a pull-request comment or a job summary: the verdict first, then a table of checks."""
    mark = MARKS["pass" if result.verdict == "pass" else "fail"]
    lines = [f"## {mark} evalkit gate: {result.verdict.upper()}", "", f"**{summary_line(result)}**", "",
             _runs_line(result), "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for check in result.checks:
        cells = check_row(check)
        cells[0] = f"{MARKS[check.verdict]} {cells[0]}"
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    policy = result.policy
    footer = (f"Intervals are two-sided {policy.confidence:.0%}; Holm {'on' if policy.holm else 'off'}; "
              f"inconclusive checks {'block' if policy.on_inconclusive == 'block' else 'warn'}. "
              f"Gate `{result.gate_id}`: `evalkit gate explain {result.gate_id}` prints the evidence.")
    lines += ["", footer, ""]
    return "\n".join(lines)


def numbers(check: CheckResult) -> str:
    """The key numbers of a check in one phrase, e.g. ``delta -0.0500 (95% CI -0.0700 to -0.0300), n=1000``."""
    evidence = check.evidence
    parts = []
    if evidence.delta is not None:
        parts.append(f"delta {_number(evidence.delta, True)} ({evidence.confidence or 0:.0%} CI "
                     f"{_number(evidence.ci_low, True)} to {_number(evidence.ci_high, True)})")
    elif evidence.candidate is not None:
        parts.append(f"value {_number(evidence.candidate)}")
    if evidence.n is not None:
        parts.append(f"n={evidence.n}")
    if evidence.p_value is not None:
        parts.append(f"p={evidence.p_value:.3g}")
    return ", ".join(parts)


def evidence_lines(check: CheckResult) -> list[str]:
    """``field: value`` for every piece of evidence the check has."""
    return [f"{key}: {value}" for key, value in check.evidence.model_dump().items() if value is not None]


def to_junit(result: GateResult) -> str:
    """JUnit XML: one test suite, one test case per check (see the module docstring for the mapping)."""
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    suite = ElementTree.Element("testsuite", name=f"evalkit gate {result.policy.name}", tests=str(len(result.checks)),
                                time="0", timestamp=result.created_at.isoformat())
    for check in result.checks:
        case = ElementTree.SubElement(suite, "testcase", classname=f"evalkit.gate.{result.policy.name}",
                                      name=check.name, time="0")
        message = f"{verdict_label(check)}: {check.reason} [{numbers(check)}]"
        if check.verdict != "pass" and not check.blocks:
            ElementTree.SubElement(case, "skipped", message=message)
            counts["skipped"] += 1
        elif check.verdict == "fail":
            ElementTree.SubElement(case, "failure", message=message, type="fail").text = message
            counts["failures"] += 1
        elif check.verdict == "inconclusive":
            ElementTree.SubElement(case, "error", message=message, type="inconclusive").text = message
            counts["errors"] += 1
        ElementTree.SubElement(case, "system-out").text = "\n".join(
            [f"verdict: {check.verdict}", f"severity: {check.severity}", f"kind: {check.kind}", *evidence_lines(check)])
    for key, value in counts.items():
        suite.set(key, str(value))
    root = ElementTree.Element("testsuites", name="evalkit gate", tests=str(len(result.checks)),
                               failures=str(counts["failures"]), errors=str(counts["errors"]),
                               skipped=str(counts["skipped"]))
    root.append(suite)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def print_table(result: GateResult, console: Console) -> None:
    """The gate result as a rich table, verdict first."""
    style = "bold green" if result.verdict == "pass" else "bold red"
    console.print(f"[{style}]evalkit gate: {summary_line(result)}[/{style}]")
    console.print(_runs_line(result).replace("`", ""), highlight=False)
    table = Table(title=f"gate {result.gate_id}")
    for column in HEADER:
        table.add_column(column, overflow="fold")
    colors = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
    for check in result.checks:
        cells = [escape(cell) for cell in check_row(check)]
        cells[0] = f"[{colors[check.verdict]}]{cells[0]}[/{colors[check.verdict]}]"
        table.add_row(*cells)
    console.print(table)


def print_explanation(result: GateResult, console: Console) -> None:
    """Every check's verdict, reason and evidence (``evalkit gate explain``)."""
    console.print(f"gate {result.gate_id} at {result.created_at:%Y-%m-%d %H:%M:%S %Z}: {summary_line(result)}",
                  highlight=False)
    console.print(_runs_line(result).replace("`", ""), highlight=False)
    console.print(f"policy file {result.policy.path} (sha256 {result.policy.sha256[:16]}); confidence "
                  f"{result.policy.confidence}; holm {result.policy.holm}; on_inconclusive "
                  f"{result.policy.on_inconclusive}", highlight=False)
    for check in result.checks:
        console.print(f"\n[bold]{escape(check.name)}[/bold] ({check.kind}, {check.severity}): {verdict_label(check)}")
        console.print(f"  {check.reason}; {numbers(check)}", highlight=False, markup=False)
        for line in evidence_lines(check):
            console.print(f"  {line}", highlight=False, markup=False)
