"""Guard prompts are the published formats byte for byte (golden strings in ``tests/fixtures/guards``, rendered from
the verbatim templates in GUARDS.md), category and policy options change only what they should, and WildGuard's
answers parse as the official parser parses them. No weights are loaded here."""

from __future__ import annotations

import pytest

from evalkit.errors import GuardError
from guards import GuardOptions, guard_entry, render_prompt
from guards._templates import render_template
from guards.llama_guard import LG2, LG3_1B, LG3_8B, VARIANTS, block_template, category_names, read_categories, render
from guards.shieldgemma import parse_policies, render_policy
from guards.wildguard import WildGuardOutput, answer_step, parse_output
from tests.guard_models import PROMPT, RESPONSE, golden


@pytest.mark.parametrize(("guard", "conv", "name"), [
    ("llama-guard-3", RESPONSE, "lg3_8b_response"),
    ("llama-guard-3", PROMPT, "lg3_8b_prompt"),
    ("llama-guard-3-1b", PROMPT, "lg3_1b_prompt"),
    ("llama-guard-2", RESPONSE, "lg2_response"),
    ("wildguard", PROMPT, "wildguard_prompt"),
    ("wildguard", RESPONSE, "wildguard_response"),
])
def test_rendered_prompt_is_the_published_format_byte_for_byte(guard: str, conv: tuple, name: str) -> None:
    assert render_prompt(guard, conv) == golden(name)


@pytest.mark.parametrize(("conv", "name"), [(PROMPT, "shieldgemma_prompt"), (RESPONSE, "shieldgemma_response")])
def test_shieldgemma_prompt_is_the_chat_template_byte_for_byte(conv: tuple, name: str) -> None:
    options = GuardOptions(policies=("dangerous_content",))
    assert render_prompt("shieldgemma", conv, options) == golden(name)


def test_llama_guard_3_1b_excludes_s6_through_its_template_argument() -> None:
    assert render(LG3_1B, PROMPT, GuardOptions(excluded=("S6",))) == golden("lg3_1b_excluded_s6")


@pytest.mark.parametrize(("variant", "name", "line"), [
    (LG3_8B, "lg3_8b_prompt", "S6: Specialized Advice.\n"),
    (LG2, "lg2_response", "S6: Privacy. \n"),
])
def test_hard_coded_templates_exclude_by_dropping_the_line_from_the_category_block(variant, name, line) -> None:
    conv = PROMPT if name.endswith("prompt") else RESPONSE
    published = golden(name)
    assert published.count(line) == 1
    assert render(variant, conv, GuardOptions(excluded=("S6",))) == published.replace(line, "")


@pytest.mark.parametrize(("variant", "name"), [(LG3_8B, "lg3_8b_prompt"), (LG2, "lg2_response")])
def test_category_block_edit_changes_nothing_else(variant, name) -> None:
    conv = PROMPT if name.endswith("prompt") else RESPONSE
    default_block = "".join(variant.line_format.format(code=code, name=text) for code, text in variant.categories)
    messages = [{"role": turn.role, "content": turn.content} for turn in conv]
    rendered = variant.bos + render_template(block_template(variant), messages=messages, category_block=default_block)
    assert rendered == golden(name)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda variant: variant.name)
def test_custom_categories_replace_the_listed_taxonomy(variant) -> None:
    options = GuardOptions(categories={"S1": "Fraud.", "S2": "Spam."})
    prompt = render(variant, PROMPT, options)
    block = prompt.split("<BEGIN UNSAFE CONTENT CATEGORIES>\n")[1].split("<END UNSAFE CONTENT CATEGORIES>")[0]
    assert block.replace(" \n", "\n") == "S1: Fraud.\nS2: Spam.\n"
    assert category_names(variant, options) == {"S1": "Fraud", "S2": "Spam"}


@pytest.mark.parametrize(("variant", "code"), [(LG3_8B, "S15"), (LG3_1B, "S14"), (LG2, "S12")],
                         ids=["8b-S15", "1b-S14", "lg2-S12"])
def test_unknown_excluded_code_is_a_one_line_error_listing_the_valid_codes(variant, code: str) -> None:
    with pytest.raises(GuardError) as raised:
        render(variant, PROMPT, GuardOptions(excluded=(code,)))
    message = str(raised.value)
    assert code in message and "\n" not in message
    assert ", ".join(code for code, _ in variant.categories) in message


def test_excluding_every_category_is_an_error() -> None:
    with pytest.raises(GuardError, match="every category is excluded"):
        render(LG2, PROMPT, GuardOptions(excluded=tuple(code for code, _ in LG2.categories)))


def test_custom_category_codes_must_be_s_numbers() -> None:
    with pytest.raises(GuardError, match="codes S1, S2"):
        render(LG3_8B, PROMPT, GuardOptions(categories={"fraud": "Fraud."}))


def test_verdicts_name_categories_as_the_model_cards_do() -> None:
    assert category_names(LG3_8B, GuardOptions())["S3"] == "Sex-Related Crimes"
    assert category_names(LG2, GuardOptions())["S5"] == "Specialized Advice"
    assert "S14" not in category_names(LG3_1B, GuardOptions())


def test_second_answer_line_gives_the_violated_categories() -> None:
    names = category_names(LG3_8B, GuardOptions())
    categories, unknown, parse_error = read_categories("unsafe\nS1,S10", names)
    assert [(category.code, category.name) for category in categories] == [("S1", "Violent Crimes"), ("S10", "Hate")]
    assert unknown == [] and not parse_error


def test_codes_outside_the_prompt_are_ignored_and_reported() -> None:
    names = category_names(LG3_8B, GuardOptions(excluded=("S6",)))
    categories, unknown, parse_error = read_categories("unsafe\nS6, S99,S2", names)
    assert [category.code for category in categories] == ["S2"]
    assert unknown == ["S6", "S99"] and not parse_error


def test_unsafe_answer_without_codes_is_a_parse_error() -> None:
    assert read_categories("unsafe", {"S1": "Violent Crimes"})[2]
    assert read_categories("unsafe\nviolent", {"S1": "Violent Crimes"})[2]


def test_shieldgemma_policies_are_worded_for_the_judged_turn() -> None:
    dangerous = parse_policies(("dangerous_content",))[0]
    assert dangerous.guideline("prompt").startswith('"No Dangerous Content": The prompt shall not contain or seek')
    assert dangerous.guideline("response").startswith('"No Dangerous Content": The chatbot shall not generate')


def test_shieldgemma_defaults_to_the_four_published_policies() -> None:
    names = [policy.name for policy in parse_policies(())]
    assert names == ["dangerous_content", "harassment", "hate_speech", "sexually_explicit"]


def test_custom_shieldgemma_policy_is_used_as_written() -> None:
    policy = parse_policies(("violence=No content that glorifies violence.",))[0]
    assert policy.name == "violence"
    assert "\n* No content that glorifies violence.\n" in render_policy(RESPONSE, policy)


def test_unknown_shieldgemma_policy_is_an_error() -> None:
    with pytest.raises(GuardError, match="dangerous_content, harassment"):
        parse_policies(("violence",))


def test_several_policies_render_one_prompt_each() -> None:
    prompts = render_prompt("shieldgemma", PROMPT, GuardOptions(policies=("dangerous_content", "harassment")))
    assert prompts.count("<bos>") == 2
    assert prompts.startswith("### policy dangerous_content\n" + golden("shieldgemma_prompt"))


def test_each_guard_registers_with_its_published_checkpoint() -> None:
    checkpoints = {name: guard_entry(name).default_checkpoint
                   for name in ("llama-guard-3", "llama-guard-3-1b", "llama-guard-2", "shieldgemma", "wildguard")}
    assert checkpoints == {"llama-guard-3": "meta-llama/Llama-Guard-3-8B",
                           "llama-guard-3-1b": "meta-llama/Llama-Guard-3-1B",
                           "llama-guard-2": "meta-llama/Meta-Llama-Guard-2-8B",
                           "shieldgemma": "google/shieldgemma-2b", "wildguard": "allenai/wildguard"}


def test_wildguard_parser_reads_the_three_answer_lines() -> None:
    parsed = parse_output("Harmful request: yes\nResponse refusal: no\nHarmful response: no")
    assert parsed == WildGuardOutput(True, False, False, parse_error=False)


def test_wildguard_parser_ignores_case() -> None:
    parsed = parse_output("Harmful request: YES\nResponse refusal: No\nHarmful response: Yes")
    assert parsed == WildGuardOutput(True, False, True, parse_error=False)


def test_wildguard_parser_reads_na_as_none_for_response_lines_only() -> None:
    parsed = parse_output("Harmful request: no\nResponse refusal: N/A\nHarmful response: N/A")
    assert parsed == WildGuardOutput(False, None, None, parse_error=False)
    assert parse_output("Harmful request: N/A\nResponse refusal: no\nHarmful response: no").parse_error


@pytest.mark.parametrize("output", ["", "yes", "Harmful request: yes\nResponse refusal: no",
                                    "Harmful request: maybe\nResponse refusal: no\nHarmful response: no"])
def test_wildguard_answer_that_does_not_fit_is_a_parse_error(output: str) -> None:
    assert parse_output(output).parse_error


def test_answer_step_is_the_token_after_the_lines_colon() -> None:
    pieces = ["Harm", "ful", " request", ":", " yes", "\n", "Response", " refusal", ":", " no", "\n", "Harm", "ful",
              " response", ":", " no"]
    assert answer_step(pieces, 1) == 4
    assert answer_step(pieces, 3) == 15
    assert answer_step(pieces[:15], 3) is None
