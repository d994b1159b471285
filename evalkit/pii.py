"""Personally identifiable information (PII) in free text: regex detectors with checksums where a format has one.

Kinds and what each matches:

- ``email``: ``local@domain.tld``.
- ``phone``: an international number (``+`` and country code), a North American one (``(415) 555-0132``,
  ``415-555-0132``) or a national one with a trunk ``0`` (``020 7946 0958``), 9 to 15 digits in all (E.164's
  maximum); bare digit runs, dates and other grouped numbers are not phones.
- ``credit_card``: 13 to 19 digits, optionally grouped by spaces or dashes, that pass the Luhn checksum.
- ``us_ssn``: ``AAA-GG-SSSS`` with the ranges the SSA never issues (000, 666, 9xx areas; 00 group; 0000 serial)
  excluded. Undashed nine-digit runs are left alone: too many order numbers look like them.
- ``iban``: country code, two check digits and up to 30 letters or digits (spaces every four allowed) that pass the
  ISO 13616 mod-97 check.
- ``ip_address``: IPv4 dotted quads and IPv6 addresses that :mod:`ipaddress` accepts.
- ``street_address``: a house number, one to four capitalised words and a street suffix (``221 Baker Street``,
  ``1600 Pennsylvania Ave``). English-language formats only.

Where two hits overlap, the one whose kind comes first in :data:`PII_KINDS` wins (a card number is not also a phone).
This is a screen, not a guarantee: regexes miss PII written in unusual formats and names of people are not
detected at all.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

PII_KINDS = ("email", "credit_card", "iban", "us_ssn", "ip_address", "street_address", "phone")

_STREET_SUFFIXES = ("Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|"
                    "Square|Sq|Parkway|Pkwy|Highway|Hwy|Circle|Cir")
_IPV4_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
    "credit_card": re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
    "us_ssn": re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
    "ip_address": re.compile(rf"(?<![\w.:])(?:(?:{_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}|"
                             r"(?=[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:)[0-9A-Fa-f:]{2,39})(?![\w.:])"),
    "street_address": re.compile(rf"\b\d{{1,6}}\s+(?:[A-Z][a-z]+\.?\s+){{1,4}}(?:{_STREET_SUFFIXES})\b"),
    "phone": re.compile(
        r"(?<![\w+-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # +44 20 7946 0958
        r"|(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}"                                   # (415) 555-0132
        r"|0\d{1,4}[ -]\d{3,4}[ -]?\d{3,4})(?![\w-])"),                                # 020 7946 0958
}


@dataclass(frozen=True)
class PiiHit:
    """One piece of PII found in a text.

    Attributes:
        kind: one of :data:`PII_KINDS`.
        start: offset of its first character.
        end: offset just past its last character (``text[start:end]`` is the hit).
        text: the matched text.
    """

    kind: str
    start: int
    end: int
    text: str


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn_valid(number: str) -> bool:
    """Return whether a digit string passes the Luhn checksum that card numbers carry.

    Args:
        number: digits only.

    Returns:
        True when the checksum holds.
    """
    total = 0
    for index, char in enumerate(reversed(number)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """Return whether a string (spaces allowed) passes the ISO 13616 mod-97 check of an IBAN.

    Args:
        candidate: the IBAN as written.

    Returns:
        True when the check digits are right.
    """
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _ip_valid(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    # "::" and "::1" parse as IPv6 but are code (C++ scopes) or loopback far more often than someone's address.
    return address.version == 4 or sum(ch not in ":" for ch in candidate) >= 4


def _phone_valid(candidate: str) -> bool:
    digits = _digits(candidate)
    if not 9 <= len(digits) <= 15:
        return False
    # ISO dates (2024-01-15) and decimals with separators are not phone numbers.
    return not re.fullmatch(r"\d{4}-\d{2}-\d{2}", candidate)


_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "credit_card": lambda text: luhn_valid(_digits(text)),
    "iban": iban_valid,
    "ip_address": _ip_valid,
    "phone": _phone_valid,
}


def find_pii(text: str) -> list[PiiHit]:
    """Find PII in a text.

    Args:
        text: any text, e.g. a model response.

    Returns:
        Non-overlapping hits in order of position (see the module docstring for the kinds and overlap rule).
    """
    taken: list[PiiHit] = []
    for kind in PII_KINDS:
        validate = _VALIDATORS.get(kind)
        for match in _PATTERNS[kind].finditer(text):
            hit = PiiHit(kind=kind, start=match.start(), end=match.end(), text=match.group())
            if validate is not None and not validate(hit.text):
                continue
            if any(hit.start < other.end and other.start < hit.end for other in taken):
                continue
            taken.append(hit)
    return sorted(taken, key=lambda hit: hit.start)


def redact(text: str) -> str:
    """Replace each PII hit with its kind in brackets, e.g. ``mail me at [EMAIL]``.

    Args:
        text: any text.

    Returns:
        The text with every hit of :func:`find_pii` replaced by ``[KIND]`` (``[EMAIL]``, ``[PHONE]``,
        ``[CREDIT_CARD]``, ``[US_SSN]``, ``[IBAN]``, ``[IP_ADDRESS]``, ``[STREET_ADDRESS]``).
    """
    pieces: list[str] = []
    position = 0
    for hit in find_pii(text):
        pieces.append(text[position:hit.start])
        pieces.append(f"[{hit.kind.upper()}]")
        position = hit.end
    pieces.append(text[position:])
    return "".join(pieces)
