"""Time the monitor on 100,000 log rows: ingest (read and validate, embed, describe, store), baseline, check (Evidently
drift per window), then a re-ingest (idempotent) and a re-check (nothing new). Prints rows/s per stage.

The logs come from ``monitor.synthetic``: a shop assistant's FAQ traffic, where prompts repeat heavily (a Zipf-like
draw from a pool of ``--distinct-prompts`` prompts, two answer phrasings each). The first 20% is the reference
period; the rest is four windows: the same distribution, a topic shift, the same again, an injection campaign.
The embedding cache starts empty, so every distinct text is embedded once during the first ingest.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_monitor.py [--rows 100000] [--distinct-prompts 1000]``
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd


def generate_logs(folder: Path, rows: int, distinct_prompts: int) -> tuple[Path, pd.Timestamp, pd.Timestamp, int]:
    from monitor.synthetic import generate, write_jsonl

    start, interval = pd.Timestamp("2026-01-01T00:00:00Z"), 1.0
    reference_rows = rows // 5
    window_rows = (rows - reference_rows) // 4
    frames = [generate("reference", reference_rows, start=start.isoformat(), seed=1, interval_s=interval,
                       distinct_prompts=distinct_prompts)]
    for index, scenario in enumerate(["same", "topic_shift", "same", "injection_campaign"]):
        first = start + pd.Timedelta(seconds=(reference_rows + index * window_rows) * interval)
        frames.append(generate(scenario, window_rows, start=first.isoformat(), seed=10 + index, interval_s=interval,
                               distinct_prompts=distinct_prompts, id_prefix=f"w{index}"))
    distinct = len(set(pd.concat([frame["prompt"] for frame in frames])) |
                   set(pd.concat([frame["response"] for frame in frames])))
    path = write_jsonl(folder / "logs.jsonl", frames)
    end = start + pd.Timedelta(seconds=reference_rows * interval)
    return path, start, end, distinct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--distinct-prompts", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        os.environ["EVALKIT_HOME"] = str(folder / "home")
        path, start, end, distinct = generate_logs(folder, args.rows, args.distinct_prompts)
        window = str((args.rows - args.rows // 5) // 4)
        timings = run_monitor(path, start, end, window)
        print_table(timings, args.rows, distinct, window)


def run_monitor(path: Path, start: pd.Timestamp, end: pd.Timestamp, window: str) -> list[tuple[str, float, int]]:
    """Run every stage and return ``(stage, seconds, rows)`` rows."""
    begin = time.perf_counter()
    from monitor.baseline import baseline_from_range
    from monitor.check import check
    from monitor.config import load_config
    from monitor.embedcache import EmbeddingCache
    from monitor.ingest import ingest
    from monitor.windows import parse_window

    config = load_config()
    rows = [("imports", time.perf_counter() - begin, 0)]
    first = ingest(path, config)
    rows += [(f"ingest: {stage}", seconds, first.rows_read) for stage, seconds in first.stage_seconds.items()]
    embedded = len(EmbeddingCache(config.embedder))  # distinct texts plus the bundled attack prompts
    rows.append(("  embed, per distinct text (model load included)", first.stage_seconds["embed"], embedded))
    tick = time.perf_counter()
    baseline = baseline_from_range(start, end, config)
    rows.append(("baseline", time.perf_counter() - tick, baseline.rows))
    tick = time.perf_counter()
    result = check(config, parse_window(window))
    checked_rows = sum(item.rows for item in result.windows)
    rows.append((f"check: {len(result.windows)} windows of {window} rows", time.perf_counter() - tick, checked_rows))
    rows.append(("total (fresh store)", time.perf_counter() - begin, first.rows_read))
    tick = time.perf_counter()
    again = ingest(path, config)
    rows.append((f"re-ingest (added {again.rows_added})", time.perf_counter() - tick, again.rows_read))
    tick = time.perf_counter()
    check(config, parse_window(window))
    rows.append(("re-check (nothing new)", time.perf_counter() - tick, 0))
    for item in result.windows:
        print(f"window {item.start[:19]}: alerts {[f'{e.rule.name} ({e.kind})' for e in item.alerts] or '-'}")
    return rows


def print_table(rows: list[tuple[str, float, int]], total_rows: int, distinct: int, window: str) -> None:
    print(f"\n{total_rows} rows, {distinct} distinct texts (prompts and responses), windows of {window} rows; "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    print("| stage | seconds | rows (texts) | per second |")
    print("|---|---:|---:|---:|")
    for stage, seconds, count in rows:
        rate = f"{count / seconds:,.0f}" if count and seconds > 0 else "-"
        print(f"| {stage} | {seconds:.1f} | {count or '-'} | {rate} |")


if __name__ == "__main__":
    main()
