"""Text normalization before lexicon matching, with a map back to the original offsets.

docs/architecture.md step 6. Evasions folded away: full-width and circled forms (NFKC), case,
traditional characters (→ simplified), zero-width characters, spaces, punctuation or symbols inserted
between Chinese characters (敏@感, 敏 感) and repeated Chinese characters (敏敏感).

Speed matters (every item and revision is screened), so each step runs in C: one ``str.translate``
folds every character to one or more characters (separators all become a space, invisible
characters NUL), then up to three regex passes delete. The offset map is built only when a caller
asks for an original span: hits are rare, texts are many.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache

import opencc

# Han ideographs (unified, extension A, compatibility) — the BMP blocks where Chinese text lives.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Code points scanned for folding: the BMP plus the symbol and letter blocks used to evade.
_SCAN_RANGES = ((0, 0xD800), (0xE000, 0x10000), (0x1D400, 0x1D800), (0x1F000, 0x1FB00), (0xE0000, 0xE0080))
_SEPARATOR_CATEGORIES = ("P", "S", "Z", "Cc")
_INVISIBLE_CATEGORIES = ("Cf", "Mn", "Me")  # zero-width, bidi and combining marks, variation selectors
SPACE, INVISIBLE = " ", "\x00"  # what separators and invisible characters fold to (NUL is Cc: a space)


@dataclass(frozen=True, slots=True)
class _Tables:
    """Immutable per-process tables: character folding and the deletion patterns."""

    fold: list[int | str]  # BMP by code point, identity = own ordinal (2x faster than a dict)
    fold_astral: dict[int, str]  # outside the BMP: mathematical letters, enclosed forms, emoji
    astral: re.Pattern[str]
    invisible: re.Pattern[str]
    # A space run between two Han characters. It starts with a literal, so the regex engine skips
    # to each space in C instead of trying a look-behind at every position (5x slower).
    between_han: re.Pattern[str]
    repeats: re.Pattern[str]  # a Han character repeated: the first one stays


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
    han = [cp for cp in range(0x3400, 0x10000) if han_class.fullmatch(folded.get(cp, chr(cp)))]
    # Traditional → simplified per character in one call: newlines keep the characters apart.
    converted = opencc.OpenCC("t2s").convert("\n".join(folded.get(cp, chr(cp)) for cp in han)).split("\n")
    if len(converted) != len(han):
        raise RuntimeError("OpenCC changed the line structure of the character list")
    for cp, simple in zip(han, converted, strict=True):
        # A few rare characters simplify to one outside the BMP; they stay, or that one character
        # would widen the whole string to 4 bytes per character and slow every later step.
        if simple != chr(cp) and max(simple) <= "\uffff":
            folded[cp] = simple
    bmp: list[int | str] = list(range(0x10000))
    for cp, target in folded.items():
        if cp < 0x10000:
            bmp[cp] = ord(target) if len(target) == 1 else target
    return _Tables(
        fold=bmp,
        fold_astral={cp: target for cp, target in folded.items() if cp >= 0x10000},
        astral=re.compile("[\U00010000-\U0010ffff]"),
        invisible=re.compile(INVISIBLE + "+"),
        between_han=re.compile(f"{SPACE}(?<=[{CJK}]{SPACE}){SPACE}*(?=[{CJK}])"),
        repeats=re.compile(f"([{CJK}])\\1+"),
    )


@dataclass(frozen=True, slots=True)
class _Segments:
    """Position map of one deletion pass: output position → input position, by kept runs."""

    out_starts: list[int]
    in_starts: list[int]
    tails: dict[int, int]  # collapsed repeats: input end of the kept head → input end of its run

    def to_input(self, pos: int) -> int:
        k = bisect_right(self.out_starts, pos) - 1
        return self.in_starts[k] + (pos - self.out_starts[k])

    def end_to_input(self, end: int) -> int:
        """Map an exclusive end; a collapsed repeat run after the last character belongs to it."""
        last = self.to_input(end - 1) + 1
        return self.tails.get(last, last)


def _segments(spans: list[tuple[int, int]], keep_head: bool) -> _Segments:
    out_starts, in_starts, tails = [0], [0], {}
    deleted = 0
    for start, end in spans:
        if keep_head:
            start += 1  # the first character of a repeated run stays
            tails[start] = end
        deleted += end - start
        out_starts.append(end - deleted)
        in_starts.append(end)
    return _Segments(out_starts, in_starts, tails)


def _passes(folded: str) -> list[tuple[re.Pattern[str], bool]]:
    """The deletion passes ``folded`` needs, in order, each with whether a run keeps its head."""
    t = tables()
    passes: list[tuple[re.Pattern[str], bool]] = []
    if INVISIBLE in folded:  # rare; a substring test costs far less than a substitution pass
        passes.append((t.invisible, False))
    if SPACE in folded:
        passes.append((t.between_han, False))
    passes.append((t.repeats, True))
    return passes


def _apply(text: str, pattern: re.Pattern[str], keep_head: bool) -> str:
    return pattern.sub(r"\1" if keep_head else "", text)


class Normalized:
    """A normalized text and the way back to offsets in the original."""

    __slots__ = ("_maps", "_origin", "folded", "original", "text")

    def __init__(self, original: str, folded: str, origin: list[int] | None, text: str) -> None:
        self.original = original
        # Folded character by character only: PII patterns run here (digits are width-folded,
        # separators are spaces) and its offsets map straight back.
        self.folded = folded
        self.text = text
        self._origin = origin  # None: folded[i] came from original[i]
        self._maps: list[_Segments] | None = None

    def _segment_maps(self) -> list[_Segments]:
        if self._maps is None:
            # Re-run the deletion passes of normalize(), this time recording what each removed.
            maps: list[_Segments] = []
            current = self.folded
            for pattern, keep_head in _passes(self.folded):
                maps.append(_segments([m.span() for m in pattern.finditer(current)], keep_head))
                current = _apply(current, pattern, keep_head)
            self._maps = maps
        return self._maps

    def folded_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span ``[start, end)`` of ``folded`` to the original text."""
        if self._origin is None:
            return start, end
        return self._origin[start], self._origin[end - 1] + 1

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span ``[start, end)`` of the normalized text to the original text."""
        for segments in reversed(self._segment_maps()):
            start, end = segments.to_input(start), segments.end_to_input(end)
        return self.folded_span(start, end)


def fold(text: str) -> tuple[str, list[int] | None]:
    """Fold each character (NFKC, case, traditional → simplified; separators → space, invisible → NUL);
    if a character expanded (⑩ → 10), also the original index of every folded character."""
    t = tables()
    folded = text.translate(t.fold)
    if t.astral.search(folded):  # instant on a string without such characters
        folded = folded.translate(t.fold_astral)
    if len(folded) == len(text):  # every target has at least one character: no expansion
        return folded, None
    origin: list[int] = []
    for index, ch in enumerate(text):
        origin.extend([index] * len(ch.translate(t.fold).translate(t.fold_astral)))
    return folded, origin


def normalize(text: str) -> Normalized:
    """Normalize ``text`` for matching; the result maps spans back to ``text``."""
    folded, origin = fold(text)
    normalized = folded
    for pattern, keep_head in _passes(folded):
        normalized = _apply(normalized, pattern, keep_head)
    return Normalized(text, folded, origin, normalized)


def normalize_term(term: str) -> str:
    """The form a lexicon term takes: the same normalization as the text, without edge spaces."""
    return normalize(term).text.strip(SPACE)
