"""Time ``evalkit score`` against ``lm_eval --model hf`` on the same model folder and the same bundled items.

Both run as separate processes, one after the other, with the same batch size and fp32 weights. Prints wall time,
items per second, the speed-up, and per-item agreement of predictions (argmax over per-choice log-likelihoods)
with the largest absolute log-likelihood difference.

Usage: ``python benchmarks/score_vs_lm_eval.py [--tasks a,b] [--limit N] [--batch-size B]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evalkit.checkpoints import local_model_dir, resolve
from evalkit.tasks_resolve import BUNDLED_TASKS_DIR

DEFAULT_TASKS = "evalkit_hellaswag,evalkit_arc_easy,evalkit_piqa,evalkit_mmlu"
BIN = Path(sys.executable).parent


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{completed.stderr[-3000:]}")
    return time.perf_counter() - started


def _lm_eval_choices(output_dir: Path) -> dict[tuple[str, int], list[float]]:
    found = {}
    for path in output_dir.rglob("samples_*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            sample = json.loads(line)
            task = path.name.removeprefix("samples_").rsplit("_", 1)[0]
            found[(task, sample["doc_id"])] = [float(item[0]) for item in sample["filtered_resps"]]
    return found


def _evalkit_choices(items_path: Path) -> dict[tuple[str, int], list[float]]:
    found = {}
    for line in items_path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("logprobs"):
            found[(row["task"], row["doc_id"])] = row["logprobs"]
    return found


def _agreement(ours: dict, theirs: dict) -> tuple[int, int, float]:
    shared = sorted(set(ours) & set(theirs))
    same = sum(max(range(len(ours[key])), key=ours[key].__getitem__) ==
               max(range(len(theirs[key])), key=theirs[key].__getitem__) for key in shared)
    largest = max((abs(a - b) for key in shared for a, b in zip(ours[key], theirs[key], strict=True)), default=0.0)
    return same, len(shared), largest


def main() -> None:
    """Run both tools and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=DEFAULT_TASKS)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    model_dir = str(local_model_dir(resolve("smollm2")))
    with tempfile.TemporaryDirectory() as scratch:
        lm_eval_out = Path(scratch) / "lm_eval"
        lm_eval_s = _timed([str(BIN / "lm_eval"), "--model", "hf", "--model_args",
                            f"pretrained={model_dir},dtype=float32", "--tasks", args.tasks, "--include_path",
                            str(BUNDLED_TASKS_DIR), "--batch_size", str(args.batch_size), "--limit", str(args.limit),
                            "--device", "cpu", "--log_samples", "--output_path", str(lm_eval_out)], env)
        home = Path(scratch) / "home"
        evalkit_env = {**env, "EVALKIT_HOME": str(home)}
        evalkit_s = _timed([str(BIN / "evalkit"), "score", model_dir, "--tasks", args.tasks, "--limit",
                            str(args.limit), "--batch-size", str(args.batch_size), "--dtype", "float32",
                            "--prompt-ppl-sample", "0", "--no-cache", "--quiet"], evalkit_env)
        ours, theirs = _evalkit_choices(sorted(home.glob("runs/*/items.jsonl"))[-1]), _lm_eval_choices(lm_eval_out)
        cached_s = _timed([str(BIN / "evalkit"), "score", model_dir, "--tasks", args.tasks, "--limit",
                           str(args.limit), "--batch-size", str(args.batch_size), "--dtype", "float32",
                           "--prompt-ppl-sample", "0", "--quiet"], evalkit_env)
    same, total, largest = _agreement(ours, theirs)
    print(f"model: SmolLM2-135M-Instruct (fp32), tasks: {args.tasks}, limit {args.limit}, batch {args.batch_size}, "
          f"{os.cpu_count()} CPUs")
    print("| run | wall s | items | items/s | speed-up vs lm-eval | same argmax | max abs logprob diff |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| lm_eval --model hf | {lm_eval_s:.1f} | {total} | {total / lm_eval_s:.2f} | 1.00x | - | - |")
    print(f"| evalkit score (fresh) | {evalkit_s:.1f} | {total} | {total / evalkit_s:.2f} | "
          f"{lm_eval_s / evalkit_s:.2f}x | {same}/{total} | {largest:.2e} |")
    print(f"| evalkit score (cached) | {cached_s:.1f} | {total} | {total / cached_s:.2f} | "
          f"{lm_eval_s / cached_s:.2f}x | {same}/{total} | {largest:.2e} |")


if __name__ == "__main__":
    main()
