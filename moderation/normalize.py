"""Text normalization before lexicon matching, with a map back to the original offsets.

docs/architecture.md step 6. Evasions folded away: full-width and circled forms (NFKC), case,
traditional characters (→ simplified), zero-width characters, spaces, punctuation or symbols inserted
between Chinese characters (敏@感, 敏 感) and repeated Chinese characters (敏敏感).

Speed matters (every item and revision is screened), so the text is handled as a numpy array of code
points: folding is one table lookup (``take``), and the deletions are found by comparisons over the
whole array and then worked out on the few positions that matter (the separators, the candidate
repeats). Only a text with a character that folds to several (⑩ → 10) or one outside the BMP takes
``str.translate``. A span is mapped back only when a caller asks for it: hits are rare, texts many.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import opencc
from numpy.typing import NDArray

# Han ideographs (unified, extension A, compatibility) — the BMP blocks where Chinese text lives.
HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
CJK = "".join(f"{chr(low)}-{chr(high)}" for low, high in HAN_RANGES)
# Code points scanned for folding: the BMP plus the symbol and letter blocks used to evade.
_SCAN_RANGES = ((0, 0xD800), (0xE000, 0x10000), (0x1D400, 0x1D800), (0x1F000, 0x1FB00), (0xE0000, 0xE0080))
_SEPARATOR_CATEGORIES = ("P", "S", "Z", "Cc")
_INVISIBLE_CATEGORIES = ("Cf", "Mn", "Me")  # zero-width, bidi and combining marks, variation selectors
SPACE, INVISIBLE = " ", "\x00"  # what separators and invisible characters fold to (NUL is Cc: a space)
_SPACE, _INVISIBLE = ord(SPACE), ord(INVISIBLE)
_BMP, _UNICODE = 0x10000, 0x110000
_EXPANDS = np.uint32(0xFFFFFFFF)  # fold-table mark of a character that folds to several characters
# Lone surrogates (a badly decoded page) survive the round trip through the array unchanged.
_CODEC, _ERRORS = "utf-32-le", "surrogatepass"

Codes = NDArray[np.uint32]
Indexes = NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class _Tables:
    """Immutable per-process tables: character folding and Han membership."""

    fold: list[int | str]  # str.translate table of the BMP, identity = own ordinal
    fold_astral: dict[int, str]  # outside the BMP: mathematical letters, enclosed forms, emoji
    fold_codes: Codes  # the BMP fold as code points; _EXPANDS where a target has several
    han: NDArray[np.bool_]  # by code point, all of Unicode: is a Han ideograph
    astral: re.Pattern[str]


def _target(ch: str) -> str:
    """What one character folds to, before traditional → simplified."""
    category = unicodedata.category(ch)
    if category.startswith(_INVISIBLE_CATEGORIES) or "\ufe00" <= ch <= "\ufe0f":
        return INVISIBLE
    if category.startswith(_SEPARATOR_CATEGORIES):
        return SPACE
    return unicodedata.normalize("NFKC", ch).lower() or INVISIBLE


@cache
def tables() -> _Tables:
    """Build the folding tables once per process (≈0.2 s); they never change afterwards."""
    folded: dict[int, str] = {}
    for low, high in _SCAN_RANGES:
        for cp in range(low, high):
            target = _target(chr(cp))
            if target != chr(cp):
                folded[cp] = target
    han_class = re.compile(f"[{CJK}]")
    han = [cp for cp in range(0x3400, _BMP) if han_class.fullmatch(folded.get(cp, chr(cp)))]
    # Traditional → simplified per character in one call: newlines keep the characters apart.
    converted = opencc.OpenCC("t2s").convert("\n".join(folded.get(cp, chr(cp)) for cp in han)).split("\n")
    if len(converted) != len(han):
        raise RuntimeError("OpenCC changed the line structure of the character list")
    for cp, simple in zip(han, converted, strict=True):
        # A few rare characters simplify to one outside the BMP; they stay, or that one character
        # would widen the whole string to 4 bytes per character and slow every later step.
        if simple != chr(cp) and max(simple) <= "\uffff":
            folded[cp] = simple
    bmp: list[int | str] = list(range(_BMP))
    fold_codes = np.arange(_BMP, dtype=np.uint32)
    for cp, target in folded.items():
        if cp < _BMP:
            bmp[cp] = ord(target) if len(target) == 1 else target
            fold_codes[cp] = ord(target) if len(target) == 1 else _EXPANDS
    is_han = np.zeros(_UNICODE, dtype=np.bool_)
    for low, high in HAN_RANGES:
        is_han[low : high + 1] = True
    return _Tables(
        fold=bmp,
        fold_astral={cp: target for cp, target in folded.items() if cp >= _BMP},
        fold_codes=fold_codes,
        han=is_han,
        astral=re.compile("[\U00010000-\U0010ffff]"),
    )


def _codes(text: str) -> Codes:
    return np.frombuffer(text.encode(_CODEC, _ERRORS), dtype=np.uint32)


def _text(codes: Codes) -> str:
    return codes.tobytes().decode(_CODEC, _ERRORS)


def _fold_slow(text: str, t: _Tables) -> tuple[str, Indexes | None]:
    """``str.translate`` folding, for texts with expanding or non-BMP characters."""
    folded = text.translate(t.fold)
    if t.astral.search(folded):  # instant on a string without such characters
        folded = folded.translate(t.fold_astral)
    if len(folded) == len(text):  # every target has at least one character: no expansion
        return folded, None
    lengths = [len(ch.translate(t.fold).translate(t.fold_astral)) for ch in text]
    return folded, np.repeat(np.arange(len(text), dtype=np.intp), lengths)


def fold(text: str) -> tuple[str, Codes, Indexes | None]:
    """Fold each character (NFKC, case, traditional → simplified; separators → space, invisible → NUL).

    Returns the folded text, its code points, and — only if a character expanded (⑩ → 10) — the
    original index of every folded character.
    """
    t = tables()
    codes = _codes(text)
    if codes.size and codes.max() < _BMP:
        folded = t.fold_codes.take(codes)
        if folded.max() != _EXPANDS:
            return _text(folded), folded, None
    text_folded, origin = _fold_slow(text, t)
    return text_folded, _codes(text_folded), origin


def _between_han(codes: Codes, han: NDArray[np.bool_], invisible: bool) -> Indexes:
    """Positions to delete: NULs, and separator runs (spaces and NULs) with a Han character each side.

    ``invisible``: whether ``codes`` has a NUL at all (a substring test on the text is cheaper).
    """
    gaps = (codes <= _SPACE).nonzero()[0]  # folded text has no other code point below the space
    if not gaps.size:
        return gaps
    # Separators are a small share of a text: the work is done on their positions only.
    last_index = codes.size - 1
    single = (gaps[1:] - gaps[:-1]) != 1  # between gap k and k+1 a non-separator
    if single.all():  # the usual case: each separator stands alone
        first = last = gaps
        run_of = None
    else:
        ends = single.nonzero()[0]
        first = gaps[np.concatenate(([0], ends + 1))]
        last = gaps[np.concatenate((ends, [gaps.size - 1]))]
        run_of = np.concatenate(([0], np.cumsum(single)))
    before = han[codes[first - 1]]  # position -1 reads the last character: corrected below
    after = han[codes.take(last + 1, mode="clip")]
    if first[0] == 0:
        before[0] = False
    if last[-1] == last_index:
        after[-1] = False
    between = before & after
    drop = between if run_of is None else between[run_of]
    if invisible:
        drop |= codes[gaps] == _INVISIBLE
    result: Indexes = gaps[drop]
    return result


def _repeats(codes: Codes, han: NDArray[np.bool_]) -> Indexes:
    """Positions of a Han character equal to the one before it (the first of a run stays)."""
    same = codes[1:] == codes[:-1]
    if not same.any():
        return np.empty(0, dtype=np.intp)
    candidates = same.nonzero()[0] + 1
    result: Indexes = candidates[han[codes[candidates]]]
    return result


def _without(size: int, drop: Indexes) -> Indexes:
    keep = np.ones(size, dtype=np.bool_)
    keep[drop] = False
    return keep.nonzero()[0]


class Normalized:
    """A normalized text and the way back to offsets in the original."""

    __slots__ = ("_heads", "_kept", "_origin", "_squeezed", "folded", "original", "text")

    def __init__(
        self,
        original: str,
        folded: str,
        origin: Indexes | None,
        kept: Indexes | None,
        heads: Indexes | None,
        squeezed: int,
        text: str,
    ) -> None:
        self.original = original
        # Folded character by character only: PII patterns run here (digits are width-folded,
        # separators are spaces) and its offsets map straight back.
        self.folded = folded
        self.text = text
        self._origin = origin  # original index per folded character; None: the same index
        self._kept = kept  # folded index per character left after separator deletion; None: same
        self._heads = heads  # index (in that text) of each character left after repeats; None: same
        self._squeezed = squeezed  # length of the text between the two deletions

    def folded_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span ``[start, end)`` of ``folded`` to the original text."""
        if self._origin is None:
            return start, end
        return self._origin.item(start), self._origin.item(end - 1) + 1

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span ``[start, end)`` of the normalized text to the original text.

        A collapsed repeat run after the span's last character belongs to the span (敏感感 → 敏感).
        """
        if self._heads is None:
            first, last = start, end - 1
        else:
            first = self._heads.item(start)  # item(): a Python int, no numpy scalar in between
            last = (self._heads.item(end) if end < self._heads.size else self._squeezed) - 1
        if self._kept is not None:
            first, last = self._kept.item(first), self._kept.item(last)
        return self.folded_span(first, last + 1)


def normalize(text: str) -> Normalized:
    """Normalize ``text`` for matching; the result maps spans back to ``text``."""
    t = tables()
    folded, codes, origin = fold(text)
    kept: Indexes | None = None
    dropped = _between_han(codes, t.han, INVISIBLE in folded)
    if dropped.size:
        kept = _without(codes.size, dropped)
        codes = codes.take(kept)
    heads: Indexes | None = None
    squeezed = codes.size
    repeated = _repeats(codes, t.han)
    if repeated.size:
        heads = _without(codes.size, repeated)
        codes = codes.take(heads)
    normalized = folded if kept is None and heads is None else _text(codes)
    return Normalized(text, folded, origin, kept, heads, squeezed, normalized)


def normalize_term(term: str) -> str:
    """The form a lexicon term takes: the same normalization as the text, without edge spaces."""
    return normalize(term).text.strip(SPACE)


# Joins terms for one normalization call: a noncharacter, neither Han nor separator, so it stays as
# it is, and no deletion or repeat runs across it.
_TERM_SEPARATOR = "\uffff"


def normalize_terms(terms: Sequence[str]) -> list[str]:
    """``normalize_term`` of each term, in one pass over all of them (a lexicon has 50,000)."""
    if any(_TERM_SEPARATOR in term for term in terms):
        return [normalize_term(term) for term in terms]
    joined = normalize(_TERM_SEPARATOR.join(terms)).text.split(_TERM_SEPARATOR)
    return [term.strip(SPACE) for term in joined] if terms else []
