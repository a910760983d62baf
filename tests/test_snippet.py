"""Snippets: ``make_snippet`` (and the embedded backend's ``page_snippet``) give exactly the string of
``make_snippet_by_tokens``, the definition that tokenizes the whole text, for texts and queries drawn
at random from the characters where the shortcuts could go wrong."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from index.analysis import ParsedQuery, Term, is_cjk, normalize, parse_query
from index.embedded_snippet import page_snippet
from index.snippet import (
    _FULL_WIDTH,
    _SIMPLE_TEXT,
    _UNCHANGED,
    _match_spans,
    _Normalized,
    _render,
    fast_snippet,
    make_snippet,
    make_snippet_by_tokens,
    mark_matches,
)

# Pieces of text: Chinese, kana and Hangul; English in several cases and widths; digits; characters
# NFKC lengthens (……, ⅳ, ﬁ) or changes (①, 兀 as a compatibility ideograph); kana marks that are not
# word characters (゛, ・) and split CJK runs; combining marks; underscores; astral ideographs; HTML;
# runs of every kind of white space.
_PIECES = [
    "社区",
    "志愿服务",
    "活动",
    "党建",
    "党",
    "建",
    "哈哈哈",
    "检查",
    "消防安全",
    "。",
    "，",
    "、",
    "！",
    "app",
    "App",
    "APP",
    "ＡＰＰ",
    "apple",
    "smart",
    "Smart City",
    "wifi6",
    "ＷｉＦｉ",
    "2024",
    "１２",
    "……",
    "ⅳ",
    "ﬁle",
    "①",
    "\uf900",
    "カタカナ",
    "ひらがな",
    "한국어",
    "゛",
    "・",
    "\u3099",
    "e\u0301",
    "_",
    "a_b",
    "\U00020000\U00020001",
    "<b>&amp;</b>",
    '"',
    " ",
    "  ",
    "\n",
    "\t",
    "\u3000",
    "\u00a0",
    "x",
    "İ",
    "ΑΣ",
    "Σ",
    "\u1100\u1161",
    "\u1161",
    "㍿",
    "㌢",
    "ｶﾞ",
    "ﾞ",
    "℃",
    "㎡",
    "会会",
]
_QUERY_PIECES = [
    "社区",
    "志愿",
    "服务",
    "党",
    "建",
    "哈哈",
    "检查",
    "app",
    "apple",
    "smart",
    "city",
    "wifi6",
    "ＡＰＰ",
    "2024",
    "12",
    "ⅳ",
    "iv",
    "file",
    "fi",
    "1",
    "カタ",
    "한국",
    "・",
    "゛",
    "\U00020000",
    "b",
    "a_b",
    "e\u0301",
    "x",
    "i",
    "σ",
    "ς",
    "会",
    "式会",
    "セン",
    "°c",
    "m2",
    "カ",
]


def _text(rng: random.Random) -> str:
    # Each text from its own few pieces, so that many lack the rarer characters altogether.
    pieces = rng.sample(_PIECES, rng.randint(1, 12))
    return "".join(rng.choices(pieces, k=rng.randint(0, 120)))


def _query(rng: random.Random) -> ParsedQuery:
    words = rng.choices(_QUERY_PIECES, k=rng.randint(0, 4))
    parts = []
    for word in words:
        roll = rng.random()
        if roll < 0.15:
            parts.append(f'"{word}{rng.choice(_QUERY_PIECES)}"')
        elif roll < 0.25:
            parts.append(f"-{word}")
        elif roll < 0.35:
            parts.append(f"{word} OR")
        else:
            parts.append(word)
    return parse_query(" ".join(parts))


@pytest.mark.parametrize("seed", range(8))
def test_make_snippet_is_the_definition_on_random_texts(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2_000):
        text, query = _text(rng), _query(rng)
        length = rng.choice([120, 120, 40, 7, 1, 0])
        expected = make_snippet_by_tokens(text, query, length)
        assert make_snippet(text, query, length) == expected, (text, query, length)
        if length == 120:
            assert page_snippet(text, query) == expected, (text, query)


@pytest.mark.parametrize("seed", range(4))
def test_marked_titles_are_the_definition_on_random_texts(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2_000):
        text, query = _text(rng), _query(rng)
        flat = " ".join(text.split())  # the definition: every token of the whole title compared
        assert mark_matches(text, query) == _render(flat, _match_spans(flat, query), len(flat), whole=True)


def test_tokens_no_query_can_produce_match_nowhere() -> None:
    # ParsedQuery may be built by hand (related items): tokens of no possible shape mark nothing.
    query = ParsedQuery(must=[[Term(("社区服",)), Term(("a社",)), Term(("",)), Term(("a b",))]])
    text = "社区服务a社区 a b"
    assert make_snippet(text, query) == make_snippet_by_tokens(text, query) == text


def test_the_shortcut_covers_ordinary_notices() -> None:
    # Chinese with English words, digits, full-width letters, punctuation: found by str.find.
    text = "各社区要结合实际，推进ＷｉＦｉ６覆盖（2024年）。Smart City 平台上线，App 下载量 1,200 次。" * 5
    for words in ("社区", "党", "wifi6", "smart city", '"平台上线"', "app -社区", ""):
        query = parse_query(words)
        assert fast_snippet(text, query) == make_snippet_by_tokens(text, query)


def test_words_match_whole_words_only() -> None:
    query = parse_query("app")
    # (an underscore separates words, as in the index)
    assert make_snippet("apple app_x app社区 ＡＰＰ happy", query) == (
        "apple <mark>app</mark>_x <mark>app</mark>社区 <mark>ＡＰＰ</mark> happy"
    )


def test_a_marked_title_is_whole_escaped_and_marked_throughout() -> None:
    # A snippet's window would begin LEAD_CHARS before the first match and end after SNIPPET_CHARS.
    title = "关于<b>做好</b>" + "一二三四五六七八九十" * 4 + "党建工作与党建宣传的通知"
    assert mark_matches(title, parse_query("党建")) == (
        "关于&lt;b&gt;做好&lt;/b&gt;"
        + "一二三四五六七八九十" * 4
        + "<mark>党建</mark>工作与<mark>党建</mark>宣传的通知"
    )
    assert mark_matches("  社区\n公告 ", parse_query("无关")) == "社区 公告"
    assert mark_matches("社区公告", parse_query("")) == "社区公告"


def _members(pattern: re.Pattern[str]) -> list[str]:
    return [chr(code) for code in range(0x110000) if pattern.fullmatch(chr(code))]


def test_simple_text_normalizes_one_character_for_one() -> None:
    # What lets make_snippet take a simple text's lowercase as its normalized form, at its positions.
    seconds = {  # characters that canonical composition joins to the one before
        chr(int(parts[1], 16))
        for code in range(0x110000)
        if (parts := unicodedata.decomposition(chr(code)).split()) and len(parts) == 2 and "<" not in parts[0]
    }
    seconds |= {chr(code) for code in [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]}  # Hangul jamo
    simple = _members(re.compile(_SIMPLE_TEXT.pattern.removesuffix("*")))
    for char in simple:
        alone = unicodedata.normalize("NFKC", char)
        assert len(alone) == 1 and len(char.lower()) == 1, hex(ord(char))
        assert unicodedata.combining(char) == 0 and char not in seconds and alone not in seconds
        assert alone == char or "\uff01" <= char <= "\uff5e", hex(ord(char))
        assert not is_cjk(char) or re.fullmatch(r"\w", char), hex(ord(char))
    rng = random.Random(5)
    for _ in range(300):
        text = "".join(rng.choices(simple, k=50))
        per_char = "".join(unicodedata.normalize("NFKC", char).lower() for char in text)
        assert unicodedata.normalize("NFKC", text).lower() == per_char


def test_unchanged_characters_are_their_own_normal_form() -> None:
    for char in _members(re.compile(f"[{_UNCHANGED}]")):
        assert unicodedata.normalize("NFKC", char).lower() == char, hex(ord(char))


def test_normalized_text_and_origins_are_the_analysis() -> None:
    rng = random.Random(11)
    for _ in range(3_000):
        text = " ".join(_text(rng).split())
        norm, offsets = normalize(text)
        found = _Normalized(text)
        if found.simple:  # full-width punctuation may stay; positions are the text's
            assert found.text.translate({ord(k): v for k, v in _FULL_WIDTH.items()}) == norm
            assert offsets is None
        else:
            assert found.text == norm
            assert [found.origin(at) for at in range(len(norm))] == (offsets or list(range(len(norm))))
            assert all(found.position(found.origin(at)) <= at for at in range(len(norm)))


def test_a_simple_text_keeps_its_cjk_characters_in_place() -> None:
    # What lets make_snippet look for CJK-only query tokens in a simple text as it is (only_cjk).
    rng = random.Random(12)
    checked = 0
    for _ in range(3_000):
        text = " ".join(_text(rng).split())
        found = _Normalized(text)
        if not found.simple:
            continue
        checked += 1
        assert _Normalized(text, only_cjk=True).text == text
        assert len(found.text) == len(text)
        for raw, normal in zip(text, found.text, strict=True):
            assert is_cjk(raw) == is_cjk(normal), (raw, normal)
            assert not is_cjk(raw) or raw == normal, (raw, normal)
    assert checked > 100
