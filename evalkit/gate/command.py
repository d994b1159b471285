"""``evalkit gate``: load the policy and runs (scoring the candidate first with ``--score``), decide, store the
result, and write the requested reports. The CLI only parses options and calls :func:`gate_command`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from evalkit.atomic import write_text_atomic
from evalkit.errors import GateError
from evalkit.gate.baseline import resolve_baseline
from evalkit.gate.engine import run_gate
from evalkit.gate.history import save_gate_result
from evalkit.gate.inputs import RunInput, load_run
from evalkit.gate.policy import PolicyFile, load_policy
from evalkit.gate.render import print_table, to_junit, to_markdown
from evalkit.gate.result import GateResult


@dataclass(frozen=True)
class GateRequest:
    """What the command line asked for."""

    policy: Path
    candidate: str | None = None
    baseline: str | None = None
    score: str | None = None
    json_file: Path | None = None
    markdown_file: Path | None = None
    junit_file: Path | None = None
    quiet: bool = False


def score_candidate(policy_file: PolicyFile, spec: str, *, console: Console, quiet: bool,
                    seed_offset: int = 0) -> RunInput:
    """Score a checkpoint with the suite the policy names and return the new run.

    Args:
        policy_file: the policy; it must name a suite.
        spec: the checkpoint spec.
        console: where progress is drawn (stderr).
        quiet: draw nothing.
        seed_offset: added to the default seed (the policy's repeats score with seeds 0, 1, ... apart).

    Returns:
        The finished run as a :class:`RunInput`.
    """
    if policy_file.suite is None:
        raise GateError(f"policy {policy_file.path} names no suite, so --score does not know what to run: add "
                        "suite: quick (or a suite YAML) to the policy, or score first and pass --candidate")
    from evalkit.progress import task_progress
    from evalkit.score import ScoreOptions, score

    with task_progress(console=console, quiet=quiet) as (notify, progress):
        options = ScoreOptions(seed=ScoreOptions().seed + seed_offset)
        scorecard = score(spec, policy_file.suite.tasks, options, suite=policy_file.suite.name,
                          safety=policy_file.suite.safety, rag=policy_file.suite.rag, notify=notify,
                          progress=progress)
    return RunInput(source=spec, scorecard=scorecard, scorecard_path=Path(scorecard.items_path).parent /
                    "scorecard.json")


def write_reports(result: GateResult, request: GateRequest) -> None:
    """Write the requested report files atomically and append the Markdown to ``$GITHUB_STEP_SUMMARY`` if set."""
    if request.json_file:
        write_text_atomic(request.json_file, result.model_dump_json(indent=2) + "\n")
    markdown = to_markdown(result)
    if request.markdown_file:
        write_text_atomic(request.markdown_file, markdown)
    if request.junit_file:
        write_text_atomic(request.junit_file, to_junit(result))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        # The runner owns this file and other steps append to it too: one append, as GitHub documents.
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")


def gate_command(request: GateRequest, *, console: Console, errors: Console) -> int:
    """Run the gate for the command line.

    Args:
        request: the parsed options.
        console: where the result table goes (stdout).
        errors: where scoring progress goes (stderr).

    Returns:
        The exit code: 0 pass, 1 fail (errors raise :class:`GateError`, exit code 2).
    """
    if (request.candidate is None) == (request.score is None):
        raise GateError("give exactly one of --candidate RUN_OR_SCORECARD or --score CHECKPOINT")
    policy_file = load_policy(request.policy)

    def score_with_policy(policy: PolicyFile, spec: str) -> RunInput:
        return score_candidate(policy, spec, console=errors, quiet=request.quiet)

    repeats = policy_file.policy.repeats
    if request.score is not None:
        candidates = tuple(score_candidate(policy_file, request.score, console=errors, quiet=request.quiet,
                                          seed_offset=index) for index in range(repeats))
    else:
        assert request.candidate is not None
        candidates = _runs(request.candidate, repeats, role="--candidate")
    baselines: tuple[RunInput, ...] = ()
    if request.baseline and "," in request.baseline:
        baselines = _runs(request.baseline, repeats, role="--baseline")
    elif request.baseline:
        baselines = (resolve_baseline(request.baseline, policy_file, score_with_policy),)
    result = run_gate(policy_file, candidates[0], baselines[0] if baselines else None,
                      candidate_repeats=candidates if repeats > 1 else (),
                      baseline_repeats=baselines if len(baselines) > 1 else ())
    stored = save_gate_result(result)
    write_reports(result, request)
    if not request.quiet:
        print_table(result, console)
        console.print(f"gate {result.gate_id} stored in {stored}; `evalkit gate explain {result.gate_id}` shows "
                      "the evidence", highlight=False, markup=False)
    return result.exit_code


def _runs(references: str, repeats: int, *, role: str) -> tuple[RunInput, ...]:
    """Load the comma-separated runs of one model; with ``repeats: k`` there must be k of them."""
    runs = tuple(load_run(reference.strip()) for reference in references.split(",") if reference.strip())
    if len(runs) != repeats:
        raise GateError(f"{role} names {len(runs)} run(s) but the policy asks for repeats: {repeats}: pass "
                        f"{repeats} comma-separated runs of the same model, or use --score")
    return runs
