"""The Llama Guard 3 hazard taxonomy (MLCommons-based), with the model card's category names."""

from __future__ import annotations

from evalkit.errors import GuardError

LLAMA_GUARD_3: dict[str, str] = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex-Related Crimes",
    "S4": "Child Sexual Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Suicide & Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}


def check_codes(codes: tuple[str, ...] | list[str], known: dict[str, str], *, guard: str) -> None:
    """Raise a one-line :class:`GuardError` when a category code is not in ``known``.

    Args:
        codes: the codes a user gave (for example ``--exclude S6``).
        known: the guard's taxonomy, code to name.
        guard: the guard's name, for the message.
    """
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise GuardError(f"unknown category code(s) {', '.join(unknown)} for guard {guard}: use "
                         f"{', '.join(known)}")
