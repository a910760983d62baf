"""Whole numbers written in untrusted text (URL parts, form fields, HTTP headers).

``str.isdigit`` is true for '²' and '①', which ``int`` refuses, and ``int`` itself accepts
'٣', ' 7', '+7' and '1_000'. Input from outside must be plain ASCII digits to be a number.
"""

from __future__ import annotations


def whole_number(text: str) -> int | None:
    """``text`` as a non-negative int when it is only ASCII digits, else None."""
    if text and text.isascii() and text.isdigit():
        return int(text)
    return None
