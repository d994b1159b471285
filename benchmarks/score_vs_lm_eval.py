"""Time ``evalkit score`` against ``lm_eval --model hf`` on the same model folder and the same bundled items.

Each run is a separate process, one after the other, with the same batch size: lm-eval in fp32, evalkit in fp32
(its default ``evalkit-prefix`` backend), in bf16, and cached. Prints wall time (model load included), items per
second, the speed-up, and per-item agreement of predictions (argmax over per-choice log-likelihoods) with
lm-eval's, with the largest absolute log-likelihood difference.

``--num-fewshot K`` gives every task K examples (both tools take the same ones); on the bundled MMLU (12 subjects of
9 items, ``--limit 108``) items of a subject share their 5-shot prefix, which evalkit encodes once.

Usage: ``python benchmarks/score_vs_lm_eval.py [--tasks a,b] [--limit N] [--batch-size B] [--num-fewshot K]``
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
    completed = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
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
    parser.add_argument("--num-fewshot", type=int, default=None)
    args = parser.parse_args()
    shots = [] if args.num_fewshot is None else [str(args.num_fewshot)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    model_dir = str(local_model_dir(resolve("smollm2")))
    with tempfile.TemporaryDirectory() as scratch:
        lm_eval_out = Path(scratch) / "lm_eval"
        lm_eval_s = _timed([str(BIN / "lm_eval"), "--model", "hf", "--model_args",
                            f"pretrained={model_dir},dtype=float32", "--tasks", args.tasks, "--include_path",
                            str(BUNDLED_TASKS_DIR), "--batch_size", str(args.batch_size), "--limit", str(args.limit),
                            "--device", "cpu", "--log_samples", "--output_path", str(lm_eval_out),
                            *(["--num_fewshot", *shots] if shots else [])], env)
        evalkit_env = {**env, "EVALKIT_HOME": str(Path(scratch) / "home")}

        def evalkit(dtype: str, *extra: str) -> tuple[float, dict]:
            seconds = _timed([str(BIN / "evalkit"), "score", model_dir, "--tasks", args.tasks, "--limit",
                              str(args.limit), "--batch-size", str(args.batch_size), "--dtype", dtype,
                              "--prompt-ppl-sample", "0", "--quiet",
                              *(["--num-fewshot", *shots] if shots else []), *extra], evalkit_env)
            newest = max((Path(scratch) / "home").glob("runs/*/items.jsonl"))
            return seconds, _evalkit_choices(newest)

        fp32_s, fp32 = evalkit("float32", "--no-cache")
        bf16_s, bf16 = evalkit("bfloat16", "--no-cache")
        cached_s, _ = evalkit("float32")
        theirs = _lm_eval_choices(lm_eval_out)
    fewshot = "" if args.num_fewshot is None else f", {args.num_fewshot}-shot"
    print(f"model: SmolLM2-135M-Instruct, tasks: {args.tasks}{fewshot}, limit {args.limit} per task, batch "
          f"{args.batch_size}, {os.cpu_count()} CPUs; each run is a separate process (model load included)")
    print("| run | wall s | items | items/s | speed-up vs lm-eval | same argmax as lm-eval | max abs logprob diff |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total = len(theirs)
    print(f"| lm_eval --model hf (fp32) | {lm_eval_s:.1f} | {total} | {total / lm_eval_s:.2f} | 1.00x | - | - |")
    for label, seconds, ours in (("evalkit score (fp32)", fp32_s, fp32), ("evalkit score (bf16)", bf16_s, bf16),
                                 ("evalkit score (fp32, cached)", cached_s, fp32)):
        same, shared, largest = _agreement(ours, theirs)
        print(f"| {label} | {seconds:.1f} | {shared} | {shared / seconds:.2f} | {lm_eval_s / seconds:.2f}x | "
              f"{same}/{shared} | {largest:.2e} |")


if __name__ == "__main__":
    main()
