"""Endpoint checkpoints (``openai:MODEL@URL``) scored through lm-eval's ``local-completions``.

A tiny random Llama and a word-level tokenizer are built in the test (no downloads) and
served by ``tests/openai_server.py``; lm-eval's results are checked against the same model
run directly with torch.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance
from lm_eval.api.registry import get_model
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from evalkit.checkpoints._openai import (
    EndpointInfo,
    build_endpoint_lm,
    parse_openai_spec,
    probe_endpoint,
)
from evalkit.errors import CheckpointError, EndpointError
from tests.openai_server import serve

MODEL_ID = "tiny-llama"
SENTENCES = [
    "the cat sat on the mat .",
    "the dog ran in the park .",
    "a bird sang in the tree .",
    "paris is the capital of france .",
    "two plus two is four .",
    "question : what is the answer ? answer : four",
]
LOGLIKELIHOOD_PAIRS = [
    ("the cat sat on the", " mat ."),
    ("paris is the capital of", " france"),
    ("two plus two is", " four . the dog ran"),
]


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer trained on a few sentences, with BOS/EOS specials."""
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(SENTENCES, trainers.WordLevelTrainer(special_tokens=["<unk>", "<s>", "</s>"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")


@pytest.fixture(scope="module")
def model(tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    """A random 2-layer Llama, hidden size 32, over the test tokenizer's vocabulary."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def logprobs_url(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast) -> Iterator[str]:
    """A vLLM-like server: prompt logprobs and /tokenize."""
    with serve(model, tokenizer, logprobs=True, name=MODEL_ID) as url:
        yield url


@pytest.fixture(scope="module")
def plain_url(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast) -> Iterator[str]:
    """A hosted-style server: no prompt logprobs, no /tokenize."""
    with serve(model, tokenizer, logprobs=False, name=MODEL_ID) as url:
        yield url


def _free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _loglikelihood_requests(pairs: list[tuple[str, str]]) -> list[Instance]:
    """lm-eval loglikelihood instances for (context, continuation) pairs."""
    return [Instance("loglikelihood", doc={}, arguments=pair, idx=i) for i, pair in enumerate(pairs)]


def _torch_loglikelihood(
    model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, context: str, continuation: str
) -> float:
    """Sum of the continuation's token log-probs, split the way lm-eval splits causal pairs."""
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    n_ctx = len(tokenizer(context, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        log_probs = torch.log_softmax(model(torch.tensor([whole])).logits[0].float(), dim=-1)
    return sum(float(log_probs[i - 1, whole[i]]) for i in range(n_ctx, len(whole)))


def _torch_greedy(
    model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, context: str, max_new_tokens: int
) -> str:
    """``model.generate`` greedy continuation of ``context``, decoded without specials."""
    ids = tokenizer(context, add_special_tokens=False, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)


def _generation_requests(contexts: list[str], max_gen_toks: int) -> list[Instance]:
    """lm-eval generate_until instances with a stop string the vocabulary cannot produce."""
    gen_kwargs = {"until": ["zzz"], "max_gen_toks": max_gen_toks, "do_sample": False}
    return [Instance("generate_until", doc={}, arguments=(c, dict(gen_kwargs)), idx=i) for i, c in enumerate(contexts)]


def test_parse_openai_spec_splits_model_and_url() -> None:
    assert parse_openai_spec("openai:tiny-llama@http://127.0.0.1:8000/v1") == ("tiny-llama", "http://127.0.0.1:8000/v1")


def test_parse_openai_spec_keeps_slashes_in_model_and_drops_trailing_slash() -> None:
    assert parse_openai_spec("openai:org/model-7b@https://api.example.com/v1/") == (
        "org/model-7b",
        "https://api.example.com/v1",
    )


@pytest.mark.parametrize(
    "spec",
    [
        "tiny-llama@http://127.0.0.1:8000/v1",
        "openai:tiny-llama",
        "openai:@http://x/v1",
        "openai:m@127.0.0.1:8000/v1",
        "openai:m@http://",
    ],
)
def test_parse_openai_spec_rejects_malformed_spec_naming_the_form(spec: str) -> None:
    with pytest.raises(CheckpointError, match=r"expected openai:MODEL@URL") as err:
        parse_openai_spec(spec)
    assert "\n" not in str(err.value)


def test_probe_dead_port_raises_endpoint_error() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(EndpointError, match=r"did not answer .*start the server or fix the URL") as err:
        probe_endpoint(MODEL_ID, url, timeout_s=2.0)
    assert url in str(err.value)


def test_probe_unknown_model_raises_endpoint_error_naming_served_ids(logprobs_url: str) -> None:
    with pytest.raises(EndpointError, match=r"does not serve model 'no-such-model' \(it serves: tiny-llama\)"):
        probe_endpoint("no-such-model", logprobs_url)


def test_probe_detects_logprobs_and_remote_tokenizer(logprobs_url: str) -> None:
    info = probe_endpoint(MODEL_ID, logprobs_url)
    assert info == EndpointInfo(
        MODEL_ID, logprobs_url, supports_logprobs=True, remote_tokenizer=True, model_ids=[MODEL_ID]
    )


def test_probe_detects_hosted_style_endpoint_without_logprobs(plain_url: str) -> None:
    info = probe_endpoint(MODEL_ID, plain_url + "/")
    assert (info.base_url, info.supports_logprobs, info.remote_tokenizer) == (plain_url, False, False)


def test_build_endpoint_lm_returns_registered_local_completions(logprobs_url: str, plain_url: str) -> None:
    full = build_endpoint_lm(probe_endpoint(MODEL_ID, logprobs_url))
    generation_only = build_endpoint_lm(probe_endpoint(MODEL_ID, plain_url))
    assert type(full) is get_model("local-completions")
    assert isinstance(generation_only, get_model("local-completions"))
    assert full.base_url == f"{logprobs_url}/completions"


@pytest.mark.parametrize("batch_size", [1, 2])
def test_loglikelihood_matches_torch_logprobs(
    model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, logprobs_url: str, batch_size: int
) -> None:
    lm = build_endpoint_lm(probe_endpoint(MODEL_ID, logprobs_url), batch_size=batch_size)
    results = lm.loglikelihood(_loglikelihood_requests(LOGLIKELIHOOD_PAIRS), disable_tqdm=True)
    expected = [_torch_loglikelihood(model, tokenizer, c, x) for c, x in LOGLIKELIHOOD_PAIRS]
    assert [r[0] for r in results] == pytest.approx(expected, abs=1e-4)


def test_loglikelihood_flags_the_greedy_continuation(
    model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, logprobs_url: str
) -> None:
    context = "the cat sat on ran four"
    ids = tokenizer(context, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        ranked = model(ids).logits[0, -1].argsort(descending=True).tolist()
    greedy, other = (tokenizer.convert_ids_to_tokens(i) for i in ranked[:2])
    assert greedy not in tokenizer.all_special_tokens and other not in tokenizer.all_special_tokens
    lm = build_endpoint_lm(probe_endpoint(MODEL_ID, logprobs_url))
    results = lm.loglikelihood(
        _loglikelihood_requests([(context, f" {greedy}"), (context, f" {other}")]), disable_tqdm=True
    )
    assert [r[1] for r in results] == [True, False]


def test_loglikelihood_rolling_matches_torch_logprobs(
    model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, logprobs_url: str
) -> None:
    lm = build_endpoint_lm(probe_endpoint(MODEL_ID, logprobs_url))
    text = "the cat sat on the mat ."
    [result] = lm.loglikelihood_rolling(
        [Instance("loglikelihood_rolling", doc={}, arguments=(text,), idx=0)], disable_tqdm=True
    )
    # lm-eval scores every token after a BOS prefix token.
    assert result == pytest.approx(_torch_loglikelihood(model, tokenizer, "<s>", " " + text), abs=1e-4)


def test_generate_until_matches_model_generate(
    model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, logprobs_url: str
) -> None:
    lm = build_endpoint_lm(probe_endpoint(MODEL_ID, logprobs_url))
    contexts = ["the cat sat on", "question : what is two plus two ? answer :"]
    results = lm.generate_until(_generation_requests(contexts, max_gen_toks=6), disable_tqdm=True)
    assert results == [_torch_greedy(model, tokenizer, c, 6) for c in contexts]


def test_generate_until_works_without_logprobs(
    model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, plain_url: str
) -> None:
    lm = build_endpoint_lm(probe_endpoint(MODEL_ID, plain_url))
    contexts = ["the dog ran in", "paris is the"]
    results = lm.generate_until(_generation_requests(contexts, max_gen_toks=5), disable_tqdm=True)
    assert results == [_torch_greedy(model, tokenizer, c, 5) for c in contexts]


def test_loglikelihood_without_logprobs_raises_one_line_endpoint_error(plain_url: str) -> None:
    lm = build_endpoint_lm(probe_endpoint(MODEL_ID, plain_url))
    with pytest.raises(
        EndpointError, match=r"returns no prompt logprobs, so loglikelihood tasks \(multiple_choice\)"
    ) as err:
        lm.loglikelihood(_loglikelihood_requests(LOGLIKELIHOOD_PAIRS[:1]))
    assert "\n" not in str(err.value)


def test_loglikelihood_rolling_without_logprobs_raises_endpoint_error(plain_url: str) -> None:
    lm = build_endpoint_lm(probe_endpoint(MODEL_ID, plain_url))
    with pytest.raises(EndpointError, match=r"returns no prompt logprobs"):
        lm.loglikelihood_rolling([Instance("loglikelihood_rolling", doc={}, arguments=("the cat",), idx=0)])


def test_logprobs_without_tokenize_route_still_refuses_loglikelihood() -> None:
    info = EndpointInfo(
        MODEL_ID, "http://127.0.0.1:1/v1", supports_logprobs=True, remote_tokenizer=False, model_ids=[MODEL_ID]
    )
    with pytest.raises(EndpointError, match=r"has no vLLM-style /tokenize endpoint"):
        build_endpoint_lm(info).loglikelihood(_loglikelihood_requests(LOGLIKELIHOOD_PAIRS[:1]))


def _multiple_choice_task(tmp_path: Path) -> dict:
    """An inline lm-eval multiple-choice task over a local JSONL file."""
    rows = [
        {"q": "the cat sat on the", "choices": ["mat", "park"], "gold": 0},
        {"q": "two plus two is", "choices": ["four", "tree"], "gold": 0},
    ]
    data = tmp_path / "mc.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {
        "task": "evalkit_endpoint_mc",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "{{q}}",
        "doc_to_choice": "{{choices}}",
        "doc_to_target": "{{gold}}",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
    }


def test_simple_evaluate_scores_multiple_choice_task_through_endpoint(logprobs_url: str, tmp_path: Path) -> None:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    lm = build_endpoint_lm(probe_endpoint(MODEL_ID, logprobs_url))
    results = simple_evaluate(
        model=lm,
        tasks=[_multiple_choice_task(tmp_path)],
        task_manager=TaskManager(include_defaults=False),  # skip indexing lm-eval's thousands of task YAMLs
        bootstrap_iters=0,
        log_samples=False,
    )
    assert 0.0 <= results["results"]["evalkit_endpoint_mc"]["acc,none"] <= 1.0
