"""evalkit.pii: what each detector finds, what it must leave alone, and redaction."""

from __future__ import annotations

import pytest

from evalkit.pii import find_pii, iban_valid, luhn_valid, redact


def kinds(text: str) -> list[tuple[str, str]]:
    return [(hit.kind, hit.text) for hit in find_pii(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("mail jane.doe+work@example.co.uk today", [("email", "jane.doe+work@example.co.uk")]),
    ("call +1 (415) 555-0132 now", [("phone", "+1 (415) 555-0132")]),
    ("ring 020 7946 0958 please", [("phone", "020 7946 0958")]),
    ("card 4111 1111 1111 1111 expires", [("credit_card", "4111 1111 1111 1111")]),
    ("card 5500-0000-0000-0004", [("credit_card", "5500-0000-0000-0004")]),
    ("ssn 123-45-6789.", [("us_ssn", "123-45-6789")]),
    ("pay to GB82 WEST 1234 5698 7654 32 by Friday", [("iban", "GB82 WEST 1234 5698 7654 32")]),
    ("pay to DE89370400440532013000", [("iban", "DE89370400440532013000")]),
    ("server at 192.168.10.254 is down", [("ip_address", "192.168.10.254")]),
    ("v6 host 2001:db8:85a3::8a2e:370:7334 answered", [("ip_address", "2001:db8:85a3::8a2e:370:7334")]),
    ("ship to 221 Baker Street, London", [("street_address", "221 Baker Street")]),
    ("meet at 1600 Pennsylvania Ave tomorrow", [("street_address", "1600 Pennsylvania Ave")]),
])
def test_each_kind_is_found_with_its_span(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected
    for hit in find_pii(text):
        assert text[hit.start:hit.end] == hit.text


@pytest.mark.parametrize("text", [
    "order 4111 1111 1111 1112 is late",          # fails the Luhn check
    "account GB82 WEST 1234 5698 7654 33",         # fails the IBAN mod-97 check
    "released on 2024-01-15 at noon",              # a date, not a phone
    "version 1.2.3 and 300.1.2.3",                 # not an IP address
    "std::vector and ::1 are code",                # not an address anyone owns
    "ssn-like 000-12-3456 and 666-12-3456",        # numbers the SSA never issues
    "the price is 1 299 euros",                    # too few digits for a phone
    "I live on the street",                        # no house number
])
def test_lookalikes_are_not_pii(text: str) -> None:
    assert find_pii(text) == []


def test_a_card_number_is_not_also_a_phone() -> None:
    assert [hit.kind for hit in find_pii("4111-1111-1111-1111")] == ["credit_card"]


def test_redact_replaces_each_hit_with_its_kind() -> None:
    text = "Reach me at bob@example.com or +44 20 7946 0958; card 4111 1111 1111 1111."
    assert redact(text) == "Reach me at [EMAIL] or [PHONE]; card [CREDIT_CARD]."


def test_redact_leaves_clean_text_unchanged() -> None:
    assert redact("Your order ships tomorrow.") == "Your order ships tomorrow."


def test_checksums() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB00 WEST 1234 5698 7654 32")
