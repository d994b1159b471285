"""Human-readable views of a Scorecard: Markdown, HTML with a per-task plot, and a terminal table."""

from __future__ import annotations

import base64
import html
import io

from evalkit.scorecard import Metric, Scorecard, TaskResult


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def metric_rows(scorecard: Scorecard) -> list[list[str]]:
    """Return one table row per task metric, then per group aggregate: task, metric, filter, value, stderr, n,
    shots, cached-from."""
    rows = [
        [result.name, metric.name, metric.filter, _fmt(metric.value), _fmt(metric.stderr), str(metric.n),
         str(result.settings.num_fewshot), result.cached_from or ""]
        for result in scorecard.tasks for metric in result.metrics
    ]
    rows += [[f"{group.name} (group of {len(group.tasks)})", metric.name, metric.filter, _fmt(metric.value),
              _fmt(metric.stderr), str(metric.n), "", ""]
             for group in scorecard.groups for metric in group.metrics]
    return rows


METRIC_HEADER = ["task", "metric", "filter", "value", "stderr", "n", "shots", "cached from"]


def _seed_rows(scorecard: Scorecard) -> list[list[str]]:
    seed = scorecard.seed_metrics
    rows = [[f"perplexity ({p.source})", _fmt(p.token_perplexity, 3), _fmt(p.cross_entropy),
             _fmt(p.cross_entropy_stderr), str(p.n)] for p in seed.perplexity]
    rows += [[f"prompt perplexity ({p.source})", _fmt(p.token_perplexity, 3), _fmt(p.cross_entropy),
              _fmt(p.cross_entropy_stderr), str(p.n)] for p in seed.prompt_perplexity]
    rows += [[f"generation uncertainty ({u.task})", f"entropy {_fmt(u.mean_entropy)}", _fmt(u.mean_nll),
              _fmt(u.mean_nll_stderr), str(u.n)] for u in seed.uncertainty]
    rows += [[f"factuality ({f.task}.{f.metric})", _fmt(f.value), "", _fmt(f.stderr), str(f.n)]
             for f in seed.factuality]
    return rows


SEED_HEADER = ["seed metric", "value", "NLL/token (nats)", "stderr", "n"]
SAFETY_HEADER = ["safety metric", "value", "stderr", "n"]


def _safety_rows(scorecard: Scorecard) -> list[list[str]]:
    safety = scorecard.safety
    if safety is None:
        return []
    rows = [[metric.name, _fmt(metric.value), _fmt(metric.stderr), str(metric.n)] for metric in safety.summary]
    rows += [[f"{result.name}.{metric.name}", _fmt(metric.value), _fmt(metric.stderr), str(metric.n)]
             for result in safety.tasks for metric in result.metrics]
    return rows


RAG_HEADER = ["rag metric", "family", "value", "stderr", "n", "skipped", "judge calls", "judge failures", "reliable"]


def _rag_rows(scorecard: Scorecard) -> list[list[str]]:
    rag = scorecard.rag
    if rag is None:
        return []
    rows = []
    for metric in rag.metrics:
        failures = str(metric.judge_failures) if metric.judge_failure_rate is None else \
            f"{metric.judge_failures} ({metric.judge_failure_rate:.0%})"
        rows.append([metric.name, metric.family, _fmt(metric.value), _fmt(metric.stderr), str(metric.n),
                     str(metric.skipped), str(metric.judge_calls), failures, "yes" if metric.reliable else "NO"])
    return rows


def _rag_title(scorecard: Scorecard) -> str:
    rag = scorecard.rag
    if rag is None:
        return ""
    judge = f"judge {rag.judge}" if rag.judge else "no judge"
    return f"RAG ({rag.source}, {rag.items} items, {judge}, embedder {rag.embedder})"


PROBLEM_HEADER = ["line", "id", "problem", "metrics"]
SHOWN_PROBLEMS = 25


def _problem_rows(scorecard: Scorecard, *, shown: int | None) -> list[list[str]]:
    problems = scorecard.rag.problems if scorecard.rag else []
    rows = [["-" if problem.line is None else str(problem.line), problem.id, problem.problem,
             ", ".join(problem.metrics)] for problem in problems[:shown]]
    if len(rows) < len(problems):
        rows.append(["...", "", f"{len(problems) - len(rows)} more in the scorecard's rag.problems", ""])
    return rows


def sections(scorecard: Scorecard, *,
             shown_problems: int | None = None) -> list[tuple[str, list[str], list[list[str]]]]:
    """Return the scorecard's non-empty tables as ``(title, header, rows)``: tasks, seed metrics, safety, RAG and
    the RAG rows with problems (at most ``shown_problems`` of them, then a count)."""
    safety = scorecard.safety
    safety_title = f"Safety (guard {safety.guard}, threshold {safety.threshold})" if safety else ""
    tables = [("Tasks", METRIC_HEADER, metric_rows(scorecard)), ("Seed metrics", SEED_HEADER, _seed_rows(scorecard)),
              (safety_title, SAFETY_HEADER, _safety_rows(scorecard)), (_rag_title(scorecard), RAG_HEADER,
                                                                       _rag_rows(scorecard)),
              ("RAG rows with problems", PROBLEM_HEADER, _problem_rows(scorecard, shown=shown_problems))]
    return [table for table in tables if table[2]]


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """Render a Markdown table (``|`` in cells escaped)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _header_lines(scorecard: Scorecard) -> list[str]:
    checkpoint = scorecard.checkpoint
    return [
        f"run `{scorecard.run_id}` at {scorecard.created_at:%Y-%m-%d %H:%M:%S %Z}",
        f"checkpoint `{checkpoint.spec}` ({checkpoint.kind}, {checkpoint.dtype}, backend {checkpoint.backend})",
        f"fingerprint `{checkpoint.fingerprint}`",
        (f"suite `{scorecard.suite or '-'}`; device {scorecard.environment.device}; "
         f"total {scorecard.timings.get('total', 0.0):.1f} s"),
    ]


def to_markdown(scorecard: Scorecard) -> str:
    """Render a scorecard as Markdown (suitable for a PR comment).

    Args:
        scorecard: the scorecard.

    Returns:
        The Markdown text.
    """
    parts = ["# evalkit scorecard", "", *[f"- {line}" for line in _header_lines(scorecard)]]
    for title, header, rows in sections(scorecard):
        parts += ["", f"## {title}", "", md_table(header, rows)]
    return "\n".join(parts) + "\n"


def _primary_metric(result: TaskResult) -> Metric | None:
    return next((metric for metric in result.metrics if metric.value is not None), None)


def plot_png(scorecard: Scorecard) -> bytes:
    """Draw each task's first metric with a ±1 stderr error bar, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = (scorecard.tasks + (scorecard.safety.tasks if scorecard.safety else [])
               + (scorecard.rag.tasks if scorecard.rag else []))
    pairs = [(result.name, metric) for result in results if (metric := _primary_metric(result))]
    figure, axes = plt.subplots(figsize=(8, 0.35 * len(pairs) + 1.2))
    names = [f"{name} ({metric.name})" for name, metric in pairs]
    axes.barh(names, [metric.value or 0.0 for _, metric in pairs],
              xerr=[metric.stderr or 0.0 for _, metric in pairs], color="#4c72b0", capsize=3)
    axes.invert_yaxis()
    axes.set_xlabel("score (±1 standard error)")
    axes.set_title(f"{scorecard.checkpoint.spec}: {scorecard.run_id}", fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(scorecard: Scorecard, png: bytes) -> str:
    """Render a scorecard as a standalone HTML page with its tables and the per-task plot.

    Args:
        scorecard: the scorecard.
        png: the plot from :func:`plot_png`.

    Returns:
        The HTML document.
    """
    image = base64.b64encode(png).decode("ascii")
    header = "".join(f"<li>{html.escape(line)}</li>" for line in _header_lines(scorecard))
    tables = "".join(f"<h2>{html.escape(title)}</h2>{_html_table(head, rows)}"
                     for title, head, rows in sections(scorecard))
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>evalkit {html.escape(scorecard.run_id)}"
            f"</title><style>{style}</style></head><body><h1>evalkit scorecard</h1><ul>{header}</ul>"
            f"<img alt='per-task scores with error bars' src='data:image/png;base64,{image}'>"
            f"{tables}</body></html>")


def print_scorecard(scorecard: Scorecard, console: object) -> None:
    """Print the scorecard's tables to a rich console.

    Args:
        scorecard: the scorecard.
        console: a ``rich.console.Console``.
    """
    from rich.table import Table

    for title, header, rows in sections(scorecard, shown_problems=SHOWN_PROBLEMS):
        table = Table(title=f"evalkit scorecard: {scorecard.checkpoint.spec}" if title == "Tasks" else title.lower())
        for column in header:
            table.add_column(column, justify="right" if column in ("value", "stderr", "n", "shots") else "left")
        for row in rows:
            table.add_row(*row)
        console.print(table)  # type: ignore[attr-defined]
