"""Guard scoring on tiny random checkpoints of the real architectures, loaded through each guard's own path: the
probabilities are the softmax a hand-run of the model gives on the published prompt, and batching, padding and
the preamble's KV cache reuse do not change them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from evalkit.errors import GuardError
from guards import Guard, GuardOptions, Verdict, load_guard
from guards._hf import greedy_decode, single_token_id
from guards.llama_guard import CATEGORY_TOKENS, LG2, LG3_1B, LG3_8B, LlamaGuard
from guards.shieldgemma import ShieldGemma
from guards.wildguard import MAX_NEW_TOKENS, WildGuard
from tests.guard_models import (
    PROMPT,
    RESPONSE,
    golden,
    sample_conversations,
    save_llama_guard,
    save_shieldgemma,
    save_wildguard,
)
from tests.tiny import tiny_tokenizer

ATOL = 1e-5
Factory = Callable[..., Guard]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Run the tiny models on one thread: their matrices are too small to gain from more, and a busy machine makes
    the extra threads wait on each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny checkpoints: each guard's, with right and left padding, and a Llama Guard whose decision words get
    almost no probability."""
    root = tmp_path_factory.mktemp("guards")
    return {"llama-guard": save_llama_guard(root / "lg"), "llama-guard-left": save_llama_guard(root / "lg-left",
                                                                                                padding_side="left"),
            "llama-guard-flat": save_llama_guard(root / "lg-flat", decision_boost=0.0),
            "shieldgemma": save_shieldgemma(root / "sg"), "shieldgemma-left": save_shieldgemma(root / "sg-left",
                                                                                               padding_side="left"),
            "wildguard": save_wildguard(root / "wg"), "wildguard-left": save_wildguard(root / "wg-left",
                                                                                       padding_side="left")}


GUARDS: dict[str, Factory] = {
    "llama-guard": lambda options, **kwargs: LlamaGuard(LG3_8B, options, **kwargs),
    "shieldgemma": ShieldGemma,
    "wildguard": WildGuard,
}


def scores(factory: Factory, folder: Path, *, batch_size: int = 8, reuse_prefix: bool = True) -> list[float]:
    """Score the sample conversations and return their ``unsafe_prob``."""
    guard = factory(GuardOptions(checkpoint=str(folder), batch_size=batch_size), reuse_prefix=reuse_prefix)
    return [verdict.unsafe_prob for verdict in guard.score(sample_conversations())]


def next_token_logits(folder: Path, ids: list[int]) -> torch.Tensor:
    """Run the checkpoint on one unpadded sequence and return the logits after its last token."""
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1]


@pytest.mark.parametrize(("variant", "conv", "name"), [
    (LG3_8B, RESPONSE, "lg3_8b_response"), (LG3_1B, PROMPT, "lg3_1b_prompt"), (LG2, RESPONSE, "lg2_response")],
    ids=lambda value: getattr(value, "name", None))
def test_llama_guard_p_unsafe_is_the_full_softmax_at_the_first_decision_token(folders, variant, conv, name) -> None:
    folder = folders["llama-guard"]
    verdict = LlamaGuard(variant, GuardOptions(checkpoint=str(folder))).score([conv])[0]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    answer_prefix = tokenizer.encode(variant.answer_prefix, add_special_tokens=False)
    probabilities = torch.softmax(next_token_logits(folder, tokenizer.encode(golden(name), add_special_tokens=False)
                                                    + answer_prefix), dim=-1)
    safe, unsafe = (tokenizer.convert_tokens_to_ids(word) for word in ("safe", "unsafe"))
    assert verdict.unsafe_prob == pytest.approx(float(probabilities[unsafe]), abs=ATOL)
    assert verdict.raw["p_safe"] == pytest.approx(float(probabilities[safe]), abs=ATOL)
    assert verdict.raw["p_safe_plus_unsafe"] == pytest.approx(float(probabilities[[safe, unsafe]].sum()), abs=ATOL)


@pytest.mark.parametrize(("factory", "folder"), [
    (lambda options, **kwargs: LlamaGuard(LG3_8B, options, **kwargs), "llama-guard"),
    (lambda options, **kwargs: LlamaGuard(LG3_1B, options, **kwargs), "llama-guard"),
    (lambda options, **kwargs: LlamaGuard(LG2, options, **kwargs), "llama-guard"),
    (ShieldGemma, "shieldgemma"), (WildGuard, "wildguard")],
    ids=["llama-guard-3", "llama-guard-3-1b", "llama-guard-2", "shieldgemma", "wildguard"])
def test_the_model_reads_exactly_one_bos(folders, factory: Factory, folder: str) -> None:
    guard = factory(GuardOptions(checkpoint=str(folders[folder])), reuse_prefix=False)
    inputs: list[torch.Tensor] = []
    guard.runner.model.register_forward_pre_hook(
        lambda module, args, kwargs: inputs.append(kwargs["input_ids"]), with_kwargs=True)
    guard.score([RESPONSE])
    prompts = inputs[0].tolist()  # the first forward holds the whole prompt (one row per ShieldGemma policy)
    assert [prompt.count(guard.tokenizer.bos_token_id) for prompt in prompts] == [1] * len(prompts)


def test_unsafe_answer_is_greedy_decoding_after_a_forced_unsafe(folders) -> None:
    folder = folders["llama-guard"]
    guard = LlamaGuard(LG3_8B, GuardOptions(checkpoint=str(folder), threshold=0.0, batch_size=3))
    verdicts = guard.score(sample_conversations())
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    stops = [guard.tokenizer.eos_token_id, guard.tokenizer.convert_tokens_to_ids("<|eot_id|>")]
    unsafe = guard.tokenizer.convert_tokens_to_ids("unsafe")
    for conv, verdict in zip(sample_conversations(), verdicts, strict=True):
        ids = torch.tensor([guard.encode(conv) + [unsafe]])
        generated = model.generate(ids, max_new_tokens=CATEGORY_TOKENS, do_sample=False, eos_token_id=stops,
                                   pad_token_id=stops[0])[0, ids.shape[1]:].tolist()
        answer = generated[:next((i for i, token in enumerate(generated) if token in stops), len(generated))]
        assert verdict.label == "unsafe"
        assert verdict.raw["output"] == "unsafe" + guard.tokenizer.decode(answer)


def test_warns_once_per_batch_when_safe_and_unsafe_are_improbable(folders, caplog) -> None:
    guard = LlamaGuard(LG3_8B, GuardOptions(checkpoint=str(folders["llama-guard-flat"]), batch_size=8))
    with caplog.at_level(logging.WARNING, logger="guards.llama_guard"):
        verdicts = guard.score(sample_conversations()[0:3:2])  # two requests: one batch
    assert all(verdict.raw["p_safe_plus_unsafe"] < 0.9 for verdict in verdicts)
    assert [record.getMessage().count("wrong template") for record in caplog.records] == [1]


def test_shieldgemma_p_yes_is_the_yes_no_softmax_per_policy_and_the_verdict_takes_the_max(folders) -> None:
    folder = folders["shieldgemma"]
    policies = ("dangerous_content", "harassment")
    guard = ShieldGemma(GuardOptions(checkpoint=str(folder), policies=policies))
    verdict = guard.score([RESPONSE])[0]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    yes, no = (tokenizer.convert_tokens_to_ids(word) for word in ("Yes", "No"))
    prompt = golden("shieldgemma_response")
    harassment = guard.policies[1].guideline("response")
    expected = {}
    for policy, text in zip(policies, (prompt, prompt.replace(guard.policies[0].guideline("response"), harassment)),
                            strict=True):
        logits = next_token_logits(folder, tokenizer.encode(text, add_special_tokens=False))
        expected[policy] = float(torch.softmax(logits[[yes, no]], dim=-1)[0])
    assert verdict.raw["policy_scores"] == pytest.approx(expected, abs=ATOL)
    assert verdict.unsafe_prob == pytest.approx(max(expected.values()), abs=ATOL)


def test_shieldgemma_categories_are_the_policies_at_or_above_the_threshold(folders) -> None:
    folder = str(folders["shieldgemma"])
    scored = ShieldGemma(GuardOptions(checkpoint=folder)).score([PROMPT])[0].raw["policy_scores"]
    threshold = sorted(scored.values())[-2]  # the two most likely policies reach it
    verdict = ShieldGemma(GuardOptions(checkpoint=folder, threshold=threshold)).score([PROMPT])[0]
    assert {category.code for category in verdict.categories} == {name for name, value in scored.items()
                                                                  if value >= threshold}
    assert len(verdict.categories) == 2 and verdict.label == "unsafe"


def test_wildguard_generation_is_hf_greedy_decoding_parsed_officially(folders) -> None:
    folder = folders["wildguard"]
    guard = WildGuard(GuardOptions(checkpoint=str(folder)))
    verdict = guard.score([RESPONSE])[0]
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = torch.tensor([guard.encode(golden("wildguard_response").removeprefix("<s>"))])
    generated = model.generate(ids, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                               eos_token_id=guard.tokenizer.eos_token_id)[0, ids.shape[1]:]
    assert verdict.raw["output"] == guard.tokenizer.decode(generated, skip_special_tokens=True).strip()
    assert verdict.parse_error  # random weights write no answer lines


@pytest.mark.parametrize(("conv", "name", "forced"), [
    (PROMPT, "wildguard_prompt", "Harmful request:"),
    (RESPONSE, "wildguard_response", None),
])
def test_wildguard_without_an_answer_line_reads_p_yes_teacher_forced(folders, conv, name, forced) -> None:
    folder = folders["wildguard"]
    guard = WildGuard(GuardOptions(checkpoint=str(folder)))
    verdict = guard.score([conv])[0]
    yes, no = guard.tokenizer.encode("Harmful request: yes no", add_special_tokens=False)[-2:]
    prompt = golden(name).removeprefix("<s>")
    if forced is None:  # response mode: the first two lines answered with the model's more likely word
        forced = "Harmful request:"
        for key in ("\nResponse refusal:", "\nHarmful response:"):
            p_yes = torch.softmax(next_token_logits(folder, guard.encode(prompt + forced))[[yes, no]], dim=-1)[0]
            forced += (" yes" if p_yes >= 0.5 else " no") + key
    expected = torch.softmax(next_token_logits(folder, guard.encode(prompt + forced))[[yes, no]], dim=-1)[0]
    assert verdict.raw["p_yes_from"] == "teacher-forced"
    assert verdict.unsafe_prob == pytest.approx(float(expected), abs=ATOL)


def test_greedy_decoding_reports_the_logits_each_token_was_chosen_from(folders) -> None:
    folder = folders["wildguard"]
    guard = WildGuard(GuardOptions(checkpoint=str(folder)))
    ids = guard.encode(golden("wildguard_prompt").removeprefix("<s>"))
    tokens, step_logits = greedy_decode(guard.runner.prefill([ids]), 6, stop_ids=[])
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    generated = model.generate(torch.tensor([ids]), max_new_tokens=6, do_sample=False, output_logits=True,
                               return_dict_in_generate=True)
    steps = len(generated.logits)
    assert tokens[0][:steps] == generated.sequences[0, len(ids):].tolist()
    assert torch.allclose(step_logits[:steps, 0], torch.cat(generated.logits), atol=ATOL)


@pytest.mark.parametrize("guard", GUARDS)
def test_batched_scores_equal_one_at_a_time(folders, guard: str) -> None:
    alone = scores(GUARDS[guard], folders[guard], batch_size=1)
    assert scores(GUARDS[guard], folders[guard], batch_size=3) == pytest.approx(alone, abs=ATOL)


@pytest.mark.parametrize("guard", GUARDS)
def test_preamble_cache_reuse_equals_full_recompute(folders, guard: str) -> None:
    recomputed = scores(GUARDS[guard], folders[guard], batch_size=3, reuse_prefix=False)
    assert scores(GUARDS[guard], folders[guard], batch_size=3) == pytest.approx(recomputed, abs=ATOL)


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize("reuse_prefix", [True, False], ids=["reuse", "recompute"])
def test_left_padding_does_not_change_a_score(folders, guard: str, reuse_prefix: bool) -> None:
    right = scores(GUARDS[guard], folders[guard], batch_size=5, reuse_prefix=reuse_prefix)
    left = scores(GUARDS[guard], folders[f"{guard}-left"], batch_size=5, reuse_prefix=reuse_prefix)
    assert left == pytest.approx(right, abs=ATOL)


def test_batches_run_only_the_tokens_after_the_cached_preamble(folders) -> None:
    guard = LlamaGuard(LG3_8B, GuardOptions(checkpoint=str(folders["llama-guard"]), batch_size=2))
    widths: list[int] = []
    guard.runner.model.register_forward_pre_hook(
        lambda module, args, kwargs: widths.append(kwargs["input_ids"].shape[1]), with_kwargs=True)
    guard.score(sample_conversations())
    preambles = sorted(widths)[-2:]  # one per mode, encoded once
    widths.clear()
    guard.score(sample_conversations())
    longest_prompt = max(len(guard.encode(conv)) for conv in sample_conversations())
    assert min(preambles) > 100
    assert max(widths) <= longest_prompt - min(preambles)


def test_registry_builds_a_guard_from_name_and_checkpoint_folder(folders) -> None:
    guard = load_guard(f"llama-guard-3={folders['llama-guard']}")
    verdict = guard.score([PROMPT])[0]
    assert guard.name == "llama-guard-3" and isinstance(verdict, Verdict)


@pytest.mark.parametrize(("guard", "folder", "token"), [
    ("llama-guard", "tiny", "<|begin_of_text|>"), ("shieldgemma", "llama-guard", "<bos>"),
    ("wildguard", "llama-guard", "<s>")])
def test_checkpoint_without_the_guards_special_tokens_is_refused(folders, tiny_model_dir, guard, folder,
                                                                 token) -> None:
    checkpoint = tiny_model_dir if folder == "tiny" else folders[folder]
    with pytest.raises(GuardError) as raised:
        GUARDS[guard](GuardOptions(checkpoint=str(checkpoint)))
    assert token in str(raised.value) and "\n" not in str(raised.value)


def test_unknown_excluded_code_is_refused_before_loading_weights(tmp_path) -> None:
    with pytest.raises(GuardError, match="S99"):
        LlamaGuard(LG3_8B, GuardOptions(checkpoint=str(tmp_path / "missing"), excluded=("S99",)))


def test_decision_word_that_is_not_one_token_is_refused() -> None:
    with pytest.raises(GuardError, match="'unsafe'"):
        single_token_id(tiny_tokenizer(), "unsafe", guard="llama-guard-3")
