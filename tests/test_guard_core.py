"""The guard protocol's edges: conversation validation, the registry and the ``--guard`` option."""

from __future__ import annotations

import pytest

from evalkit.errors import GuardError
from guards import conversation, guard_names, last_exchange, mode_of, parse_guard_option, render_prompt


def test_a_lone_user_turn_is_prompt_mode_and_a_reply_is_response_mode():
    prompt = conversation([{"role": "user", "content": "hi"}])
    reply = conversation([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    assert mode_of(prompt) == "prompt" and last_exchange(prompt) == ("hi", None)
    assert mode_of(reply) == "response" and last_exchange(reply) == ("hi", "hello")


@pytest.mark.parametrize("turns, fragment", [
    ([], "is empty"),
    ([{"role": "assistant", "content": "hello"}], "roles must alternate"),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "expected 'assistant'"),
    ([{"role": "system", "content": "be nice"}, {"role": "user", "content": "a"}], "roles must alternate"),
    ([{"role": "user", "content": "   "}], "no text content"),
    ([{"role": "user"}], "no text content"),
])
def test_malformed_conversations_are_one_line_errors(turns, fragment):
    with pytest.raises(GuardError, match=fragment) as raised:
        conversation(turns, where="line 3")
    assert "\n" not in str(raised.value) and str(raised.value).startswith("line 3")


def test_the_registry_lists_every_published_guard_and_the_reference():
    assert {"llama-guard-3", "llama-guard-3-1b", "llama-guard-2", "shieldgemma", "wildguard",
            "reference"} <= set(guard_names())


def test_guard_option_splits_name_and_checkpoint():
    assert parse_guard_option("llama-guard-3") == ("llama-guard-3", None)
    assert parse_guard_option("llama-guard-3=./weights/lg3") == ("llama-guard-3", "./weights/lg3")
    with pytest.raises(GuardError, match="malformed"):
        parse_guard_option("llama-guard-3=")


def test_an_unknown_guard_names_the_known_ones():
    with pytest.raises(GuardError, match="unknown guard 'llama-guard-9'.*reference"):
        render_prompt("llama-guard-9", conversation([{"role": "user", "content": "hi"}]))
