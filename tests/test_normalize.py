"""Normalization before matching: evasions fold away and spans map back to the original text."""

from __future__ import annotations

import pytest

from moderation.normalize import normalize, normalize_term


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("ＡＢＣ", "abc"),  # full-width letters, case
        ("①２③", "123"),  # circled and full-width digits
        ("機密檔案", "机密档案"),  # traditional → simplified
        ("机\u200b密", "机密"),  # zero-width space
        ("机@密", "机密"),  # a symbol between Chinese characters
        ("机 　密", "机密"),  # spaces, ideographic space
        ("机😀密", "机密"),  # an emoji (outside the BMP)
        ("机机机密密", "机密"),  # repeated characters
        ("hello, world", "hello  world"),  # between Latin letters separators stay (as spaces)
    ],
)
def test_evasions_fold_away(original: str, expected: str) -> None:
    assert normalize(original).text == expected


def test_spans_map_back_to_the_original() -> None:
    original = "通知：本文件为【機 @ 密】，請勿外傳。"
    normalized = normalize(original)
    start = normalized.text.index("机密")
    begin, end = normalized.original_span(start, start + 2)
    assert original[begin:end] == "機 @ 密"


def test_span_after_an_expanding_character_and_repeats() -> None:
    original = "⑩号文件：机机密密"
    normalized = normalize(original)
    assert normalized.text.startswith("10号")
    start = normalized.text.index("机密")
    begin, end = normalized.original_span(start, start + 2)
    assert original[begin:end] == "机机密密"


def test_terms_normalize_like_text() -> None:
    assert normalize_term(" 內部資料 ") == "内部资料"
    assert normalize_term("ＶＸ") == "vx"
