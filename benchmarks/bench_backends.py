"""Time lm-eval's ``hf`` backend (``HFLM``) against evalkit's ``evalkit-prefix`` (``PrefixSharingLM``) in one process.

Both wrap the same loaded embedded model (SmolLM2-135M-Instruct, float32, CPU) and run the same bundled tasks
through ``simple_evaluate`` with the same limit and batch size. Runs alternate between the backends and each
time is the fastest of ``--repeats`` runs, so a busy machine penalises neither. A bfloat16 copy of the model
runs through ``evalkit-prefix`` too, with lm-eval's default log-softmax dtype (the model's) and with float32.

Prints a markdown table, a row per task: the seconds each backend spends in ``loglikelihood`` (what a backend
controls; ``simple_evaluate`` adds the same task building, metrics and environment capture to both, shown as wall
seconds), the speed-up, how many items pick the same choice (argmax over per-choice log-likelihoods) as ``hf``
in float32, and the largest absolute log-likelihood difference.

Usage: ``python benchmarks/bench_backends.py [--tasks a,b] [--limit N] [--batch-size B] [--repeats R]
[--num-fewshot K]``
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from lm_eval import simple_evaluate
from lm_eval.models.huggingface import HFLM

from evalkit.backends import PrefixSharingLM
from evalkit.checkpoints import load_transformers, resolve
from evalkit.tasks_resolve import build_task_manager, load_tasks

DEFAULT_TASKS = "evalkit_hellaswag,evalkit_arc_easy,evalkit_piqa,evalkit_mmlu"
Choices = dict[int, list[float]]


def _run(lm: Any, name: str, manager: Any, limit: int, shots: int | None) -> tuple[float, float, Choices]:
    """Evaluate one task; return the seconds spent in ``loglikelihood`` (the backend's share), the wall seconds
    of ``simple_evaluate``, and each item's per-choice log-likelihoods."""
    task = load_tasks(name, manager).tasks[name]
    spent: list[float] = []
    backend = lm.loglikelihood

    def timed(requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        started = time.perf_counter()
        answers = backend(requests, disable_tqdm=disable_tqdm)
        spent.append(time.perf_counter() - started)
        return answers

    lm.loglikelihood = timed
    try:
        started = time.perf_counter()
        results = simple_evaluate(model=lm, tasks=[task], task_manager=manager, limit=limit, num_fewshot=shots,
                                  log_samples=True, bootstrap_iters=0, verbosity="ERROR")
        wall = time.perf_counter() - started
    finally:
        del lm.loglikelihood
    return sum(spent), wall, {sample["doc_id"]: [float(response[0][0]) for response in sample["resps"]]
                              for sample in results["samples"][name]}


def _fastest(lms: dict[str, Any], name: str, manager: Any, limit: int, repeats: int,
             shots: int | None) -> dict[str, tuple]:
    """Run every backend ``repeats`` times, alternating, and keep each one's fastest times and its choices."""
    best: dict[str, tuple[float, float, Choices]] = {}
    for _ in range(repeats):
        for label, lm in lms.items():
            seconds, wall, choices = _run(lm, name, manager, limit, shots)
            if label in best:
                seconds, wall = min(seconds, best[label][0]), min(wall, best[label][1])
            best[label] = (seconds, wall, choices)
    return best


def _argmax(scores: list[float]) -> int:
    return max(range(len(scores)), key=scores.__getitem__)


def _agreement(ours: Choices, reference: Choices) -> tuple[int, int, float]:
    same = sum(_argmax(ours[doc]) == _argmax(reference[doc]) for doc in reference)
    largest = max(abs(a - b) for doc in reference for a, b in zip(ours[doc], reference[doc], strict=True))
    return same, len(reference), largest


def _warm_up(lms: dict[str, Any], manager: Any, name: str) -> None:
    # The first forwards of a process pay one-off costs (weight pages, kernel setup) that belong to no backend.
    for lm in lms.values():
        _run(lm, name, manager, 2, None)


def main() -> None:
    """Load the model once, time both backends on every task, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=DEFAULT_TASKS)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-fewshot", type=int, default=None)
    args = parser.parse_args()
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    names = args.tasks.split(",")
    checkpoint = resolve("smollm2")
    model, tokenizer = load_transformers(checkpoint, dtype="float32", device="cpu")
    model_bf16, _ = load_transformers(checkpoint, dtype="bfloat16", device="cpu")
    options = {"tokenizer": tokenizer, "batch_size": args.batch_size, "device": "cpu"}
    lms = {"hf": HFLM(pretrained=model, **options), "ours": PrefixSharingLM(pretrained=model, **options),
           "bf16": PrefixSharingLM(pretrained=model_bf16, **options),
           "bf16/fp32 softmax": PrefixSharingLM(pretrained=model_bf16, softmax_dtype=torch.float32, **options)}
    manager = build_task_manager(names)
    _warm_up(lms, manager, names[0])
    fewshot = "" if args.num_fewshot is None else f", {args.num_fewshot}-shot"
    print(f"SmolLM2-135M-Instruct on CPU ({torch.get_num_threads()} threads){fewshot}, limit {args.limit}, batch "
          f"{args.batch_size}, fastest of {args.repeats}. Seconds are spent in loglikelihood (the backend); wall is "
          "all of simple_evaluate. Argmax and diff are against hf in float32.\n")
    print("| task | hf s | ours s | speed-up | same argmax | max abs diff | wall hf / ours s | ours bf16 s "
          "| bf16 speed-up | bf16 same argmax | bf16 + fp32 softmax same argmax |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        best = _fastest(lms, name, manager, args.limit, args.repeats, args.num_fewshot)
        (hf_s, hf_wall, reference), (ours_s, ours_wall, ours) = best["hf"], best["ours"]
        same, total, largest = _agreement(ours, reference)
        bf16_s, _, bf16 = best["bf16"]
        bf16_same, _, _ = _agreement(bf16, reference)
        softmax_same, _, _ = _agreement(best["bf16/fp32 softmax"][2], reference)
        print(f"| {name} | {hf_s:.2f} | {ours_s:.2f} | {hf_s / ours_s:.2f}x | {same}/{total} | {largest:.1e} "
              f"| {hf_wall:.2f} / {ours_wall:.2f} | {bf16_s:.2f} | {hf_s / bf16_s:.2f}x | {bf16_same}/{total} "
              f"| {softmax_same}/{total} |", flush=True)


if __name__ == "__main__":
    main()
