"""``unicodedata.normalize("NFKC", text)`` without its cost on every character of a Chinese text.

Content hashes (hub/ingest.py) normalize every item's whole text. Chinese notices are full of
full-width punctuation (，：（）), which NFKC changes, so unicodedata's quick check fails and the whole
text goes through decomposition and composition (~80 µs for 600 characters). But most characters
are a boundary: their decomposition starts with a starter (combining class 0) that never composes
with what precedes it. NFKC of a text made only of such characters is the NFKC of each character,
concatenated; here only the runs of characters that change are translated (found by one regex
split). A text with any
other character (a combining mark, a Hangul vowel, a character outside the BMP) takes unicodedata.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

_BMP = 0x10000
# Every canonical decomposition is below this (planes 0-2; planes 3-16 have none): the scan for
# backward-combining characters stops here instead of at 0x110000, 5x fewer code points.
_DECOMPOSED_BELOW = 0x30000
# Hangul vowels and final consonants compose with the syllable before them (algorithmic, not in the
# decomposition data).
_HANGUL_BACKWARD = (range(0x1161, 0x1176), range(0x11A8, 0x11C3))


@dataclass(frozen=True, slots=True)
class _Tables:
    # Splits a text into: text NFKC leaves alone, (runs of boundary characters NFKC changes, a character
    # that is not a boundary: the whole text must go to unicodedata).
    pieces: re.Pattern[str]
    forms: dict[int, str]  # NFKC of the boundary characters it changes, for str.translate


def _char_class(codes: list[int]) -> str:
    """A regex character class of ``codes`` (ascending), as ranges."""
    parts: list[str] = []
    start = previous = codes[0]
    for code in [*codes[1:], -1]:
        if code != previous + 1:
            parts.append(f"\\u{start:04x}" if start == previous else f"\\u{start:04x}-\\u{previous:04x}")
            start = code
        previous = code
    return "".join(parts)


def _backward_combining() -> set[int]:
    """Characters that may compose with the character before them (a superset is safe)."""
    found = {code for block in _HANGUL_BACKWARD for code in block}
    for code in range(_DECOMPOSED_BELOW):
        mapping = unicodedata.decomposition(chr(code))
        if mapping and not mapping.startswith("<"):
            parts = mapping.split()
            if len(parts) == 2:
                found.add(int(parts[1], 16))
    return found


def prepare() -> None:
    """Build the tables now, in a process about to ingest (crawlers/process.py): built lazily inside the
    first ingest batch, their ~0.2 s of pure Python holds the GIL while the crawl's network thread waits."""
    _tables()


@cache
def _tables() -> _Tables:
    """Built on first use in a process (~0.2 s), never on import."""
    backward = _backward_combining()
    risky: list[int] = []
    changing: list[int] = []
    forms: dict[int, str] = {}
    for code in range(_BMP):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            risky.append(code)
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        first = ord(decomposed[0]) if decomposed else -1
        if first < 0 or unicodedata.combining(decomposed[0]) or first in backward:
            risky.append(code)
            continue
        form = unicodedata.normalize("NFKC", char)
        if form != char:
            changing.append(code)
            forms[code] = form
    changed = f"[{_char_class(changing)}]+"
    return _Tables(re.compile(f"({changed})|([{_char_class(risky)}]|[^\\u0000-\\uffff])"), forms)


def nfkc(text: str) -> str:
    """The same string as ``unicodedata.normalize("NFKC", text)``."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    tables = _tables()
    parts = tables.pieces.split(text)  # [kept, changed run or None, risky or None, kept, ...]
    if any(parts[2::3]):
        return unicodedata.normalize("NFKC", text)
    forms = tables.forms
    parts[1::3] = [run.translate(forms) for run in parts[1::3]]
    parts[2::3] = [""] * (len(parts) // 3)
    return "".join(parts)
