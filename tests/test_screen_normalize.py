"""The fast normalization, matching and number patterns agree with plain step-by-step versions.

moderation.normalize works on numpy arrays and moderation.matcher on UTF-16 bytes for speed; these
tests spell the same rules out one character at a time and compare on many random texts mixing
the evasions (full-width, traditional, symbols between characters, zero-width, repeats, characters
that expand or lie outside the BMP, lone surrogates).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from moderation.lexicon import Entry, Lexicon
from moderation.matcher import Matcher
from moderation.normalize import (
    HAN_RANGES,
    INVISIBLE,
    SPACE,
    normalize,
    normalize_term,
    normalize_terms,
    tables,
)
from moderation.pii import find_pii

ALPHABET = [
    *"机密敏感不得外传機關們国國路口交通 　@#.,，。、\n\tＡＢcdＥ①⑩⒈㍿ﬁ1２3x",
    *("\u200b", "\ufe0f", "\x00", "😀", "𝐀", "🄐", "𠀀", "\ud800"),
]


def is_han(ch: str) -> bool:
    return any(low <= ord(ch) <= high for low, high in HAN_RANGES)


@dataclass
class Char:
    """A character of the text being normalized, with the original span it stands for."""

    ch: str
    start: int
    end: int


def reference(text: str) -> tuple[str, list[Char]]:
    """Normalization step by step: fold, drop invisible, drop separators between Han, collapse repeats."""
    t = tables()
    folded = [
        Char(ch, i, i + 1)
        for i, original in enumerate(text)
        for ch in original.translate(t.fold).translate(t.fold_astral)
    ]
    chars = [c for c in folded if c.ch != INVISIBLE]
    kept: list[Char] = []
    i = 0
    while i < len(chars):
        if chars[i].ch != SPACE:
            kept.append(chars[i])
            i += 1
            continue
        j = i
        while j < len(chars) and chars[j].ch == SPACE:
            j += 1
        if not (kept and j < len(chars) and is_han(kept[-1].ch) and is_han(chars[j].ch)):
            kept.extend(chars[i:j])
        i = j
    result: list[Char] = []
    for c in kept:
        if result and is_han(c.ch) and result[-1].ch == c.ch:
            result[-1] = Char(c.ch, result[-1].start, c.end)  # the run belongs to its first character
        else:
            result.append(Char(c.ch, c.start, c.end))
    return "".join(c.ch for c in result), result


@pytest.mark.parametrize("seed", range(4))
def test_normalize_matches_the_step_by_step_version(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2000):
        text = "".join(rng.choices(ALPHABET, k=rng.randint(0, 16)))
        expected, chars = reference(text)
        normalized = normalize(text)
        assert normalized.text == expected, repr(text)
        for start in range(len(chars)):
            for end in range(start + 1, len(chars) + 1):
                assert normalized.original_span(start, end) == (chars[start].start, chars[end - 1].end), (
                    repr(text),
                    start,
                    end,
                )


def test_long_text_takes_the_array_path_and_maps_back() -> None:
    body = "本次会议通报了全区工作进展情况，" * 300
    text = body + "此件機 @ 密，不不得外外傳。" + body
    normalized = normalize(text)
    start = normalized.text.index("机密")
    begin, end = normalized.original_span(start, start + 2)
    assert text[begin:end] == "機 @ 密"
    start = normalized.text.index("不得外传")
    begin, end = normalized.original_span(start, start + 4)
    assert text[begin:end] == "不不得外外傳"


def naive_find(terms: dict[str, Entry], whitelist: list[str], text: str) -> list[tuple[int, int, str]]:
    """Every occurrence of every term, minus those inside a whitelist occurrence."""
    allowed = [
        (i, i + len(w)) for w in whitelist for i in range(len(text) - len(w) + 1) if text.startswith(w, i)
    ]
    found = []
    for key, entry in terms.items():
        for i in range(len(text) - len(key) + 1):
            if text.startswith(key, i) and not any(a <= i and i + len(key) <= b for a, b in allowed):
                found.append((i, i + len(key), entry.term))
    return sorted(found)


def test_matcher_agrees_with_naive_search_on_bmp_and_astral_text() -> None:
    rng = random.Random(7)
    chars = [*"敏感词路口交通ab ", "𠀀", "𠀁"]
    words = {"".join(rng.choices(chars, k=rng.randint(1, 4))).strip() for _ in range(80)} - {""}
    entries = []
    for number, word in enumerate(sorted(words)):
        white = number % 7 == 0
        category = "whitelist" if white else "c"
        entries.append(Entry(word, normalize_term(word), category, 0 if white else 3, white, "f", number))
    matcher = Matcher(Lexicon(tuple(entries), "v1", ("f",)))
    terms = {e.normalized: e for e in entries if not e.whitelist}
    whitelist = [e.normalized for e in entries if e.whitelist]
    for _ in range(3000):
        text = "".join(rng.choices(chars, k=rng.randint(0, 30)))
        got = sorted((m.start, m.end, m.entry.term) for m in matcher.find(text))
        assert got == naive_find(terms, whitelist, text), repr(text)


def test_numbers_found_only_in_candidate_runs_are_all_found() -> None:
    rng = random.Random(11)
    numbers = [
        "11010519491231002x",
        "4111111111111111",
        "13800138000",
        "138 0013 8000",
        "6222 0200 0000 0000 000",
    ]
    noise = list("0123456789") * 3 + list(" xa汉")
    for _ in range(3000):
        parts = ["".join(rng.choices(noise, k=rng.randint(0, 20))) for _ in range(2)]
        number = rng.choice(numbers)
        text = parts[0] + "，" + number + "。" + parts[1]
        spans = {(hit.start, hit.end) for hit in find_pii(text)}
        start = text.index("，") + 1
        assert (start, start + len(number)) in spans, repr(text)


def test_terms_normalized_together_as_one_by_one() -> None:
    rng = random.Random(13)
    terms = ["".join(rng.choices(ALPHABET, k=rng.randint(0, 6))) for _ in range(3000)]
    assert normalize_terms(terms) == [normalize_term(term) for term in terms]
    assert normalize_terms([]) == []
