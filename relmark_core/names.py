"""Names a user gives to saved things (segments, views): trimmed, bounded, printable."""

from __future__ import annotations

import unicodedata

from relmark_core.errors import InputRefused

__all__ = ["clean_name"]

_INVISIBLE = ("Cc", "Cs", "Co", "Cn")  # control, surrogate, private-use, unassigned


def clean_name(name: str, *, thing: str, max_chars: int, empty: str) -> str:
    """``name`` with its spaces collapsed, or a refusal saying what to fix.

    ``thing`` names what is being named ("segment", "view"); ``empty`` is the sentence for a
    blank name."""
    text = " ".join(str(name).split())
    if not text:
        raise InputRefused(empty)
    if len(text) > max_chars:
        raise InputRefused(
            f"The {thing} name is {len(text)} characters long; keep it to {max_chars}."
        )
    if any(unicodedata.category(ch) in _INVISIBLE for ch in text):
        raise InputRefused(f"The {thing} name contains an invisible or control character.")
    return text
