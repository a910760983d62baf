"""Numbers from untrusted text: only plain ASCII digits count (hub/wholenumber.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.wholenumber import whole_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("007", 7),
        ("2147483648", 2**31),
        ("", None),
        ("²", None),
        ("①", None),
        ("٣", None),
        ("７", None),
        ("+7", None),
        ("-7", None),
        (" 7", None),
        ("1_000", None),
        ("7.0", None),
    ],
)
def test_only_ascii_digits_are_a_number(text: str, expected: int | None) -> None:
    assert whole_number(text) == expected


@given(st.text())
def test_any_text_is_a_number_or_none_never_an_error(text: str) -> None:
    number = whole_number(text)
    if number is None:
        assert not (text and all("0" <= char <= "9" for char in text))
    else:
        assert str(number) == text.lstrip("0") or (number == 0 and set(text) == {"0"})
