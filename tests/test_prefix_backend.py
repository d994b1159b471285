"""The ``evalkit-prefix`` backend (:class:`PrefixSharingLM`) gives lm-eval's ``hf`` backend (``HFLM``) results.

Every test runs the same model object through ``HFLM`` and through ``PrefixSharingLM`` and compares per request:
log-likelihoods within 1e-4 (float32) and identical ``is_greedy`` flags. The tiny random Llama covers the request
shapes (shared and distinct contexts, single- and multi-token continuations, the empty context, rolling windows,
left truncation, a batch size that splits a shared context); the slow test covers the embedded model on the
bundled multiple-choice tasks through ``simple_evaluate``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM
from transformers import AutoModelForCausalLM, AutoTokenizer, MistralConfig, MistralForCausalLM

from evalkit.backends import PrefixSharingLM, prefix_lm
from evalkit.checkpoints import load, resolve
from evalkit.errors import SettingsError
from tests.tiny import CORPUS, tiny_tokenizer

TOLERANCE = 1e-4

CHOICES = {
    "Question: What is the capital of France? Answer:": [" Paris", " Paris is the capital of France.", " London",
                                                         " the dog"],
    "The cat sat on the": [" mat.", " mat", " dog ran in the park.", " tree"],
    "The answer is": [" A", " B", " C", " D"],
    "Two plus two is": [" four."],
    "": [" The cat sat on the mat.", " A"],
}


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> tuple[Any, Any]:
    """The tiny Llama (sdpa attention) and its tokenizer."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def _both(model: Any, tokenizer: Any, **options: Any) -> tuple[HFLM, PrefixSharingLM]:
    options = {"batch_size": 4, "device": "cpu", **options}
    return (HFLM(pretrained=model, tokenizer=tokenizer, **options),
            PrefixSharingLM(pretrained=model, tokenizer=tokenizer, **options))


def _instances(pairs: list[tuple[str, str]]) -> list[Instance]:
    return [Instance("loglikelihood", {}, pair, index) for index, pair in enumerate(pairs)]


def _choice_pairs() -> list[tuple[str, str]]:
    return [(context, continuation) for context, continuations in CHOICES.items() for continuation in continuations]


def _assert_same_answers(theirs: list[tuple[float, bool]], ours: list[tuple[float, bool]]) -> None:
    assert len(ours) == len(theirs)
    for (their_logprob, their_greedy), (our_logprob, our_greedy) in zip(theirs, ours, strict=True):
        assert abs(our_logprob - their_logprob) < TOLERANCE
        assert our_greedy == their_greedy


def _greedy_tokens(model: Any, context: list[int], count: int) -> list[int]:
    tokens = list(context)
    with torch.no_grad():
        for _ in range(count):
            tokens.append(int(model(torch.tensor([tokens])).logits[0, -1].argmax()))
    return tokens[len(context):]


def test_registered_with_lm_eval_as_evalkit_prefix() -> None:
    from lm_eval.api.registry import get_model

    assert get_model("evalkit-prefix") is PrefixSharingLM


def test_loglikelihood_equals_hflm_for_shared_contexts_single_and_multi_token_continuations(tiny: tuple) -> None:
    hf, ours = _both(*tiny)
    pairs = _choice_pairs()
    lengths = {len(ours._encode_pair(context, continuation)[1]) for context, continuation in pairs if context}
    assert 1 in lengths and max(lengths) > 1

    _assert_same_answers(hf.loglikelihood(_instances(pairs), disable_tqdm=True),
                         ours.loglikelihood(_instances(pairs), disable_tqdm=True))


def test_greedy_flags_equal_hflm_for_greedy_and_non_greedy_continuations(tiny: tuple) -> None:
    model, tokenizer = tiny
    hf, ours = _both(model, tokenizer)
    requests = []
    for text in CORPUS:
        context = tokenizer(text[:40], add_special_tokens=False).input_ids
        greedy = _greedy_tokens(model, context, 3)
        off_by_one = [*greedy[:-1], (greedy[-1] + 1) % len(tokenizer)]
        for continuation in (greedy, greedy[:1], off_by_one):
            requests.append(((text[:40], tokenizer.decode(continuation)), context, continuation))

    theirs = hf._loglikelihood_tokens(requests, disable_tqdm=True)
    assert {greedy for _, greedy in theirs} == {True, False}
    _assert_same_answers(theirs, ours._loglikelihood_tokens(requests, disable_tqdm=True))


def test_results_come_back_in_request_order_when_contexts_interleave(tiny: tuple) -> None:
    hf, ours = _both(*tiny)
    pairs = _choice_pairs()
    interleaved = pairs[::2] + pairs[1::2][::-1]

    _assert_same_answers(hf.loglikelihood(_instances(interleaved), disable_tqdm=True),
                         ours.loglikelihood(_instances(interleaved), disable_tqdm=True))


def test_batch_size_one_splits_a_long_shared_context_and_still_equals_hflm(tiny: tuple) -> None:
    hf, ours = _both(*tiny, batch_size=1)
    context = "Question: What is the capital of France? Answer:"
    pairs = [(context, continuation) for continuation in (" Paris is the capital of France.",
                                                          " The dog ran in the park.", " Two plus two is four.")]
    requests = [((context, continuation), *ours._encode_pair(context, continuation)) for context, continuation in pairs]
    capacity = max(len(context_ids) + len(continuation_ids) - 1 for _, context_ids, continuation_ids in requests)
    assert len(prefix_lm._units(requests, list(range(len(requests))), capacity=capacity)) > 1

    _assert_same_answers(hf._loglikelihood_tokens(requests, disable_tqdm=True),
                         ours._loglikelihood_tokens(requests, disable_tqdm=True))


FEWSHOT = {
    "animals": "The following are multiple choice questions (with answers). " + CORPUS[0] + " The answer is A.\n\n",
    "capitals": "The following are multiple choice questions (with answers). " + CORPUS[1] + " The answer is B.\n\n",
}
QUESTIONS = ["Two plus two is", "The cat sat on the", "Question: What is the capital of France? Answer:",
             "A bird sang in the"]


def _fewshot_pairs() -> list[tuple[str, str]]:
    """Items of two "subjects", each context opening with its subject's few-shot block, plus zero-shot items."""
    pairs = [(FEWSHOT[subject] + question, choice) for subject in FEWSHOT for question in QUESTIONS
             for choice in (" A", " B", " the mat.")]
    return pairs + [(context, continuation) for context, continuation in _choice_pairs() if context]


def test_items_sharing_a_fewshot_prefix_reuse_its_keys_and_values_and_equal_hflm(tiny: tuple) -> None:
    model, tokenizer = tiny
    hf, ours = _both(model, tokenizer)
    pairs = _fewshot_pairs()
    requests = [((context, continuation), *ours._encode_pair(context, continuation)) for context, continuation in pairs]
    groups = prefix_lm._prefix_groups(requests, list(range(len(requests))))
    prefixes = {tokenizer.decode(prefix) for prefix, _ in groups}
    # one group per subject, each prefix its few-shot block; the zero-shot items share nothing worth a forward
    assert len(groups) == 3 and "" in prefixes
    assert all(any(text.startswith(block.rstrip()) for block in FEWSHOT.values()) for text in prefixes if text)
    assert sum(len(members) for _, members in groups) == len(requests)

    seen: list[int] = []
    handle = model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["input_ids"].numel()
                                             if "input_ids" in kwargs else args[0].numel()), with_kwargs=True)
    try:
        mine = ours._loglikelihood_tokens(requests, disable_tqdm=True)
    finally:
        handle.remove()
    _assert_same_answers(hf._loglikelihood_tokens(requests, disable_tqdm=True), mine)
    contexts = {tuple(context) for _, context, _ in requests}
    assert sum(seen) < sum(len(context) for context in contexts)  # each few-shot block ran once, not per item


def test_bfloat16_rows_after_a_shared_prefix_are_as_close_to_float32_as_rows_without_one(tiny: tuple) -> None:
    model, tokenizer = tiny
    options = {"pretrained": model, "tokenizer": tokenizer, "batch_size": 4, "device": "cpu"}
    ours, exact = PrefixSharingLM(**options, mixed_precision_dtype="bfloat16"), PrefixSharingLM(**options)
    requests = [((context, continuation), *ours._encode_pair(context, continuation))
                for context, continuation in _fewshot_pairs()]
    reference = exact._loglikelihood_tokens(requests, disable_tqdm=True)
    shared = ours._loglikelihood_tokens(requests, disable_tqdm=True)
    alone = [ours._loglikelihood_tokens([request], disable_tqdm=True)[0] for request in requests]  # no sharing

    def error(answers: list[tuple[float, bool]]) -> float:
        return max(abs(ours - theirs) for (ours, _), (theirs, _) in zip(answers, reference, strict=True))

    assert error(shared) < 0.3 and error(alone) < 0.3  # bf16 rounding on a random model, the same either way


def test_contexts_that_share_less_than_the_minimum_are_not_grouped() -> None:
    short = [(None, [7] * (prefix_lm.MIN_SHARED_PREFIX - 1) + [index], [1]) for index in range(3)]
    [(prefix, members)] = prefix_lm._prefix_groups(short, [0, 1, 2])
    assert prefix == () and members == [0, 1, 2]


def test_requests_hflm_would_left_truncate_are_scored_like_hflm(tiny: tuple) -> None:
    hf, ours = _both(*tiny, max_length=16)
    long_context = " ".join(CORPUS[:2])
    pairs = [(long_context, " Paris"), (long_context, " The cat sat on the mat."), ("The cat sat on the", " mat."),
             ("The cat sat on the", " mat")]
    assert len(ours._encode_pair(*pairs[0])[0]) > 16

    _assert_same_answers(hf.loglikelihood(_instances(pairs), disable_tqdm=True),
                         ours.loglikelihood(_instances(pairs), disable_tqdm=True))


def test_loglikelihood_rolling_equals_hflm_across_several_windows(tiny: tuple) -> None:
    hf, ours = _both(*tiny, max_length=16)
    texts = [*CORPUS, "A bird sang.", " ".join(CORPUS)]
    assert max(len(ours.tok_encode(text)) for text in texts) > 3 * 16
    instances = [Instance("loglikelihood_rolling", {}, (text,), index) for index, text in enumerate(texts)]

    theirs = hf.loglikelihood_rolling(instances, disable_tqdm=True)
    ours_rolling = ours.loglikelihood_rolling(instances, disable_tqdm=True)
    assert ours_rolling == pytest.approx(theirs, abs=TOLERANCE)


def test_eager_attention_gets_an_additive_mask_and_equals_hflm(tiny_model_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    hf, ours = _both(model, AutoTokenizer.from_pretrained(tiny_model_dir))
    assert ours._packs_prefixes

    pairs = _choice_pairs()
    _assert_same_answers(hf.loglikelihood(_instances(pairs), disable_tqdm=True),
                         ours.loglikelihood(_instances(pairs), disable_tqdm=True))


def test_sliding_window_models_are_left_to_hflm() -> None:
    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    config = MistralConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=2, sliding_window=4, initializer_range=0.2)
    model = MistralForCausalLM(config).eval()
    hf, ours = _both(model, tokenizer)
    assert not ours._packs_prefixes

    # Contexts longer than the window: a full-attention layout would give different numbers.
    pairs = [(CORPUS[1], " Paris is the capital of France."), (CORPUS[1], " London")]
    _assert_same_answers(hf.loglikelihood(_instances(pairs), disable_tqdm=True),
                         ours.loglikelihood(_instances(pairs), disable_tqdm=True))


def test_every_answer_reaches_lm_evals_cache_hook(tiny: tuple) -> None:
    _, ours = _both(*tiny, max_length=16)
    recorded: list[tuple[str, Any, tuple[float, bool]]] = []

    class Recorder:
        def add_partial(self, attr: str, request: Any, answer: tuple[float, bool]) -> None:
            recorded.append((attr, request, answer))

    ours.set_cache_hook(Recorder())  # type: ignore[arg-type]
    pairs = [*_choice_pairs(), (" ".join(CORPUS[:2]), " Paris")]
    answers = ours.loglikelihood(_instances(pairs), disable_tqdm=True)

    assert sorted(recorded, key=repr) == sorted(
        [("loglikelihood", pair, answer) for pair, answer in zip(pairs, answers, strict=True)], key=repr)


def test_load_builds_the_prefix_backend_by_default_and_hflm_on_request(tiny_model_dir: Path) -> None:
    checkpoint = resolve(str(tiny_model_dir))
    default = load(checkpoint, device="cpu", dtype="float32")
    plain = load(checkpoint, device="cpu", dtype="float32", backend="hf")

    assert isinstance(default.lm, PrefixSharingLM) and default.backend == "evalkit-prefix"
    assert type(plain.lm) is HFLM and plain.backend == "hf"


def test_load_rejects_an_unknown_backend_naming_the_choices(tiny_model_dir: Path) -> None:
    with pytest.raises(SettingsError, match="evalkit-prefix, hf"):
        load(resolve(str(tiny_model_dir)), device="cpu", backend="vllm")


# --- the embedded model on the bundled tasks ------------------------------------------------------------------

BUNDLED = ("evalkit_hellaswag", "evalkit_arc_easy", "evalkit_piqa", "evalkit_winogrande", "evalkit_truthfulqa_mc2",
           "evalkit_mmlu")


def _per_item_answers(lm: Any, name: str, *, num_fewshot: int | None = None,
                      samples: list[int] | None = None) -> dict[int, list[tuple[float, bool]]]:
    from lm_eval import simple_evaluate

    from evalkit.tasks_resolve import build_task_manager, load_tasks

    manager = build_task_manager([name])
    task = load_tasks(name, manager).tasks[name]
    chosen = {"samples": {name: samples}} if samples else {"limit": 3}
    results = simple_evaluate(model=lm, tasks=[task], task_manager=manager, num_fewshot=num_fewshot,
                              log_samples=True, bootstrap_iters=0, verbosity="ERROR", **chosen)
    return {sample["doc_id"]: [tuple(response[0]) for response in sample["resps"]]
            for sample in results["samples"][name]}


# Items 0 and 6 are college physics, 2 and 4 college computer science: each pair shares its 5-shot prefix.
FEWSHOT_CASES = {("evalkit_mmlu", 5): [0, 6, 2, 4]}


@pytest.mark.slow
def test_embedded_model_gets_hflms_answers_on_every_bundled_choice_task(shared_home: Path) -> None:
    from evalkit.checkpoints import load_transformers

    model, tokenizer = load_transformers(resolve("smollm2"), dtype="float32", device="cpu")
    hf, ours = _both(model, tokenizer, batch_size=8)
    cases = [(name, None, None) for name in BUNDLED] + [(name, shots, docs)
                                                        for (name, shots), docs in FEWSHOT_CASES.items()]
    for name, shots, docs in cases:
        theirs = _per_item_answers(hf, name, num_fewshot=shots, samples=docs)
        mine = _per_item_answers(ours, name, num_fewshot=shots, samples=docs)
        assert sorted(mine) == sorted(theirs) and len(theirs) == len(docs or range(3)), name
        for doc_id, their_choices in theirs.items():
            _assert_same_answers(their_choices, mine[doc_id])
            their_scores, my_scores = [score for score, _ in their_choices], [score for score, _ in mine[doc_id]]
            assert my_scores.index(max(my_scores)) == their_scores.index(max(their_scores)), (name, doc_id)
