"""Model-level seed metrics: perplexity on text, prompt perplexity, generation uncertainty and factuality."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import SettingsError
from evalkit.items import item_id
from evalkit.scorecard import Factuality, Perplexity, TaskResult, Uncertainty

if TYPE_CHECKING:
    from lm_eval.api.model import LM

FACTUALITY_METRICS = {"truthfulqa_mc2": "acc", "truthfulqa_mc1": "acc", "evalkit_truthfulqa_mc2": "acc",
                      "evalkit_truthfulqa_mc1": "acc"}


def read_texts(path: Path) -> list[str]:
    """Read documents for perplexity: JSONL with a ``text`` field per line, or plain text split on blank lines.

    Args:
        path: a ``.jsonl`` or text file.

    Returns:
        The non-empty documents.
    """
    if not path.is_file():
        raise SettingsError(f"--ppl-data file {path} does not exist: check the path")
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"--ppl-data file {path} cannot be read as UTF-8 text ({type(error).__name__}): "
                            "give a UTF-8 JSONL or text file") from error
    if path.suffix == ".jsonl":
        texts = []
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                texts.append(str(json.loads(line)["text"]))
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise SettingsError(f"{path} line {number} is not a JSON object with a 'text' field: fix it") from error
    else:
        texts = [block.strip() for block in raw.split("\n\n")]
    texts = [text for text in texts if text.strip()]
    if not texts:
        raise SettingsError(f"--ppl-data file {path} holds no text: give it at least one document")
    return texts


def _stderr(values: list[float]) -> float | None:
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None


def perplexity(lm: LM, texts: list[str], *, source: str) -> tuple[Perplexity, list[dict[str, Any]]]:
    """Score whole documents with lm-eval's rolling log-likelihood.

    Args:
        lm: an lm-eval model with ``loglikelihood_rolling`` and ``tok_encode``.
        texts: the documents.
        source: a label for where the texts came from.

    Returns:
        The aggregate :class:`Perplexity` and one item row per document (mean NLL per token).
    """
    from lm_eval.api.instance import Instance

    requests = [Instance(request_type="loglikelihood_rolling", doc={"text": text}, arguments=(text,), idx=index)
                for index, text in enumerate(texts)]
    loglikelihoods = [float(value) for value in lm.loglikelihood_rolling(requests, disable_tqdm=True)]
    token_counts = [max(len(lm.tok_encode(text)), 1) for text in texts]
    byte_counts = [max(len(text.encode("utf-8")), 1) for text in texts]
    total_nll = -sum(loglikelihoods)
    per_doc = [-value / tokens for value, tokens in zip(loglikelihoods, token_counts, strict=True)]
    summary = Perplexity(
        source=source, n=len(texts), tokens=sum(token_counts), bytes=sum(byte_counts),
        cross_entropy=total_nll / sum(token_counts), cross_entropy_stderr=_stderr(per_doc),
        token_perplexity=math.exp(total_nll / sum(token_counts)),
        byte_perplexity=math.exp(total_nll / sum(byte_counts)),
        bits_per_byte=total_nll / sum(byte_counts) / math.log(2),
    )
    rows = [{"task": f"perplexity:{source}", "item_id": item_id({"text": text}), "doc_id": index,
             "metric": "nll_per_token", "filter": "none", "score": value}
            for index, (text, value) in enumerate(zip(texts, per_doc, strict=True))]
    return summary, rows


def prompt_sample(prompts: list[str], size: int) -> list[str]:
    """Return the first ``size`` distinct prompts, in order (the sample prompt perplexity is computed on)."""
    return list(dict.fromkeys(prompts))[:size]


def generation_uncertainty(model: Any, tokenizer: Any, task: str,
                           generations: list[tuple[str, str, str]]) -> tuple[Uncertainty | None, list[dict[str, Any]]]:
    """Re-score each generation with one forward pass over prompt plus output, at the generated tokens.

    Args:
        model: the transformers model that generated the outputs.
        tokenizer: its tokenizer.
        task: the task name.
        generations: ``(item id, prompt, generated text)`` triples.

    Returns:
        The aggregate :class:`Uncertainty` (``None`` when nothing was generated) and one row per generation.
    """
    import torch

    nll_means, entropy_means, rows, total_tokens = [], [], [], 0
    for index, (key, prompt, output) in enumerate(generations):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        output_ids = tokenizer(output, add_special_tokens=False)["input_ids"]
        if not output_ids or not prompt_ids:
            continue
        ids = torch.tensor([prompt_ids + output_ids], device=model.device)
        with torch.no_grad():
            logits = model(ids).logits[0, len(prompt_ids) - 1:-1].float()
        log_probs = torch.log_softmax(logits, dim=-1)
        targets = torch.tensor(output_ids, device=model.device)
        token_nll = -log_probs.gather(1, targets[:, None])[:, 0]
        entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
        nll_means.append(float(token_nll.mean()))
        entropy_means.append(float(entropy.mean()))
        total_tokens += len(output_ids)
        rows.append({"task": task, "item_id": key, "doc_id": index, "metric": "generation_mean_nll",
                     "filter": "none", "score": nll_means[-1]})
        rows.append({"task": task, "item_id": key, "doc_id": index, "metric": "generation_mean_entropy",
                     "filter": "none", "score": entropy_means[-1]})
    if not nll_means:
        return None, rows
    summary = Uncertainty(
        task=task, n=len(nll_means), tokens=total_tokens, mean_nll=statistics.fmean(nll_means),
        mean_nll_stderr=_stderr(nll_means), mean_entropy=statistics.fmean(entropy_means),
        mean_entropy_stderr=_stderr(entropy_means),
    )
    return summary, rows


def factuality(results: list[TaskResult]) -> list[Factuality]:
    """Pick the TruthfulQA-style results of a run as its factuality measures.

    Args:
        results: the run's task results.

    Returns:
        One :class:`Factuality` per TruthfulQA multiple-choice task present.
    """
    found = []
    for result in results:
        metric_name = FACTUALITY_METRICS.get(result.name)
        for metric in result.metrics:
            if metric.name == metric_name and metric.value is not None:
                found.append(Factuality(task=result.name, metric=metric.name, value=metric.value,
                                        stderr=metric.stderr, n=metric.n))
    return found
