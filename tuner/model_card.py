"""A Markdown model card per registry version: what it is, what it was trained on, how it scored, its limits."""

from __future__ import annotations

from typing import Any

from evalkit.report import md_table, sections
from evalkit.scorecard import Scorecard

LIMITS = (
    ("- Scores come from the suites listed above; the bundled tasks are offline stand-ins written for evalkit, not "
     "the published benchmarks."),
    ("- Safety rates are judged by the guard named in each safety section; the embedded reference guard is a "
     "baseline classifier, not a Llama Guard equal."),
)


def model_card(spec: str, manifest: dict[str, Any], scorecards: list[Scorecard]) -> str:
    """Render the model card.

    Args:
        spec: the checkpoint spec of the version.
        manifest: the version's manifest (base, method, data hashes, config, verdicts, ...).
        scorecards: the runs that scored it.

    Returns:
        Markdown.
    """
    lines = [f"# Model card: `{spec}`", ""]
    for key in ("base", "method", "adapter", "data", "seed", "fingerprint"):
        if isinstance(manifest.get(key), dict):
            lines.append(f"- **{key}**:")
            lines += [f"  - {name}: `{value}`" for name, value in manifest[key].items()]
        elif key in manifest:
            lines.append(f"- **{key}**: `{manifest[key]}`")
    if "curve_verdicts" in manifest:
        lines += ["", "## Training curve verdicts", ""]
        lines += [f"- {verdict['name']}: {verdict['verdict']} ({verdict['reason']})"
                  for verdict in manifest["curve_verdicts"]]
    for scorecard in scorecards:
        lines += ["", f"## Scores: run `{scorecard.run_id}` (suite `{scorecard.suite or '-'}`)"]
        for title, header, rows in sections(scorecard):
            lines += ["", f"### {title}", "", md_table(header, rows)]
    lines += ["", "## Limits", "", *LIMITS]
    return "\n".join(lines) + "\n"
