"""Search snippets shared by both backends: a window of the text with matches in <mark>.

A match is a token of the text (index.analysis) that the query wants, and a wanted CJK character
inside any token. ``make_snippet_by_tokens`` finds them by tokenizing the whole text: the definition.
``make_snippet`` returns the same string ~20 times faster (tests/test_snippet.py compares the two on
random texts): it finds the wanted tokens with ``str.find`` in the normalized text, only as far as
the window reaches, and falls back to the definition for the rare text where that is not valid.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right

from index.analysis import _CJK_CLASS, ParsedQuery, is_cjk, nfkc, tokenize

SNIPPET_CHARS = 120
LEAD_CHARS = 30  # context kept before the first match

Span = tuple[int, int]
# A CJK character that is not a word character (a few kana marks, unassigned code points): it can split
# a run of CJK characters into two runs of tokens, which ``str.find`` would not see.
_SPLITS_RUNS = re.compile(f"(?=[{_CJK_CLASS}])\\W")
_WORD_CHAR = re.compile(f"(?![{_CJK_CLASS}])[^\\W_]")  # a character of a word token (not CJK)
_CJK_TOKEN = re.compile(f"[{_CJK_CLASS}]{{1,2}}")  # a bigram or a lone character: found by str.find
_WORD = re.compile(f"(?:(?![{_CJK_CLASS}])[^\\W_])+")
# NFKC maps the full-width forms of ASCII to ASCII, one character each; replacing them first leaves
# the NFKC of a text as it is (they decompose to exactly that) and most Chinese text then needs none.
_FULL_WIDTH = {chr(code): unicodedata.normalize("NFKC", chr(code)) for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH_CHAR = re.compile("[\uff01-\uff5e]")
_FULL_WIDTH_WORD_CHAR = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_CHANGED_ALONE = re.compile("[A-Z\uff01-\uff5e]")  # ...and lowercasing changes A-Z, one for one
# Characters that NFKC and lowercasing, applied to them alone, leave as they are (tested): ASCII once
# lowered, common Chinese punctuation, kana, CJK ideographs, Hangul syllables.
_UNCHANGED = (
    "\x00-\x40\x5b-\x7f\u00b7\u2010\u2012-\u2016\u2018-\u2023\u3001-\u3035\u3037\u303b-\u309a"
    "\u30a0-\u30fe\u3400-\ua63f\uac00-\ud7a3"
)
_CHANGED = re.compile(f"[^{_UNCHANGED}]")
# Text of these characters only (most Chinese notices) is normalized character by character, one for
# one, with no run-splitting character (tested: each is its own NFKC but full-width forms, none
# combines with a neighbour, none lowercases to something else but A-Z): normalized, it is its
# lowercase with full-width letters and digits made ASCII (full-width punctuation may stay: it splits
# tokens either way).
_ESCAPED = re.compile("[&<>\"']")  # what html.escape (quote=True) replaces: most windows hold none
_SIMPLE_TEXT = re.compile(
    "[\x00-\x7f\u00b7\u2010\u2012-\u2016\u2018-\u2023\u3001-\u3029\u3030-\u3035\u3037\u3041-\u3096"
    "\u30a1-\u30fa\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uff01-\uff5e]*"
)


def _ascii_form(match: re.Match[str]) -> str:
    return _FULL_WIDTH[match.group()]


def _alone(match: re.Match[str]) -> str:
    return (_FULL_WIDTH.get(match.group()) or match.group()).lower()


class _Normalized:
    """``index.analysis.normalize(text)``: NFKC + lowercase, and where each character came from.

    When that keeps the length, positions are the text's own (as ``tokenize`` then takes them);
    otherwise every character is normalized alone and ``origin`` maps a position back through the
    characters that became other than one character (few: …, ℃, Ⅳ).
    """

    def __init__(self, text: str, only_cjk: bool = False) -> None:
        self.starts: list[int] = []  # normalized position where each such character's output begins
        self.changes: list[tuple[int, int]] = []  # (text position, output length) of each
        self.simple = _SIMPLE_TEXT.fullmatch(text) is not None
        if self.simple:
            if only_cjk:
                # Only CJK tokens are looked for: normalizing a simple text changes letters and digits
                # alone, one for one, never a CJK character nor whether a character is one.
                self.text = text
                return
            if _FULL_WIDTH_WORD_CHAR.search(text):
                text = _FULL_WIDTH_CHAR.sub(_ascii_form, text)
            self.text = text.lower()
            return
        whole = nfkc(_FULL_WIDTH_CHAR.sub(_ascii_form, text)).lower()
        if len(whole) == len(text):
            self.text = whole
            return
        lowered = _CHANGED_ALONE.sub(_alone, text)
        pieces: list[str] = []
        last = shift = 0
        for match in _CHANGED.finditer(lowered):
            at = match.start()
            alone = unicodedata.normalize("NFKC", match.group()).lower()
            pieces += [lowered[last:at], alone]
            if len(alone) != 1:
                self.starts.append(at + shift)
                self.changes.append((at, len(alone)))
                shift += len(alone) - 1
            last = at + 1
        pieces.append(lowered[last:])
        self.text = "".join(pieces)

    def origin(self, at: int) -> int:
        """The text position of normalized position ``at``."""
        if not self.starts:  # the usual case: normalizing kept every position
            return at
        which = bisect_right(self.starts, at) - 1
        if which < 0:
            return at
        start, (position, size) = self.starts[which], self.changes[which]
        return position if at < start + size else position + 1 + at - start - size

    def position(self, origin: int) -> int:
        """The normalized position where text position ``origin`` begins."""
        shift = sum(size - 1 for position, size in self.changes if position < origin)
        return origin + shift


def _merged(spans: list[Span]) -> list[Span]:
    spans.sort()
    merged: list[Span] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _match_spans(text: str, query: ParsedQuery) -> list[Span]:
    wanted = query.highlight_tokens()
    chars = {token for token in wanted if len(token) == 1 and is_cjk(token)}
    spans: list[Span] = []
    for token in tokenize(text):
        if token.text in wanted:
            spans.append((token.start, token.end))
        elif chars and is_cjk(token.text[0]):
            # A one-character query term marks that character inside any bigram.
            for offset, char in enumerate(token.text):
                if char in chars:
                    spans.append((token.start + offset, token.start + offset + 1))
    return _merged(spans)


def _same(text: str) -> str:
    return text


def _render(text: str, spans: list[Span], length: int, whole: bool = False) -> str:
    """The window of ``text`` from LEAD_CHARS before the first span (from its start if ``whole``),
    ``spans`` (merged, sorted) marked."""
    start = max(0, spans[0][0] - LEAD_CHARS) if spans and not whole else 0
    end = min(len(text), start + length)
    # One search of the window instead of html.escape's five replaces on each piece.
    escape = html.escape if _ESCAPED.search(text, start, end) else _same
    parts: list[str] = ["…"] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        parts.append(escape(text[cursor:span_start]))
        parts.append(f"<mark>{escape(text[span_start:span_end])}</mark>")
        cursor = span_end
    parts.append(escape(text[cursor:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)


def make_snippet_by_tokens(text: str, query: ParsedQuery, length: int = SNIPPET_CHARS) -> str:
    """``make_snippet`` by its definition: every token of the whole text compared with the query's."""
    text = " ".join(text.split())
    return _render(text, _match_spans(text, query), length)


class _Finder:
    """The spans ``_match_spans`` gives, found with ``str.find`` in the normalized text.

    Valid when the normalized text holds no CJK character that is not a word character: then the CJK
    tokens are the bigrams (or the lone character) of each maximal run of CJK characters and the other
    tokens the maximal runs of other letters and digits. So a wanted bigram matches wherever it occurs,
    a wanted word where no letter or digit of a word touches it, a wanted CJK character wherever it
    occurs (marked once for each token holding it, as ``_match_spans`` does), anything else nowhere.
    """

    def __init__(self, norm: _Normalized, wanted: set[str]) -> None:
        self.norm = norm
        self.wanted = wanted
        cjk = [token for token in wanted if _CJK_TOKEN.fullmatch(token)]
        self.bigrams = [token for token in cjk if len(token) == 2]
        self.chars = [token for token in cjk if len(token) == 1]
        self.words = [token for token in wanted if _WORD.fullmatch(token)]

    def _is_word(self, at: int, size: int) -> bool:
        text = self.norm.text
        before = at > 0 and _WORD_CHAR.match(text, at - 1) is not None
        return not before and _WORD_CHAR.match(text, at + size) is None

    def _token_spans(self, token: str, at: int) -> list[Span]:
        origin, text = self.norm.origin, self.norm.text
        here = origin(at)
        if token in self.chars:
            left = at > 0 and is_cjk(text[at - 1])
            right = at + 1 < len(text) and is_cjk(text[at + 1])
            spans = []
            if not left and not right:  # a lone character: the token itself
                spans.append((here, here + 1))
            if right and text[at : at + 2] not in self.wanted:  # first in a bigram
                spans.append((here, here + 1))
            if left and text[at - 1 : at + 1] not in self.wanted:  # second in a bigram
                before = origin(at - 1)
                spans.append((before + 1, before + 2))
            return spans
        if token in self.words and not self._is_word(at, len(token)):
            return []
        return [(here, origin(at + len(token) - 1) + 1)]

    def _each(self, start: int, stop: int) -> list[tuple[str, int]]:
        """(token, position) of every wanted token starting in [start, stop) of the normalized text."""
        found = []
        text = self.norm.text
        for token in (*self.bigrams, *self.chars, *self.words):
            at = text.find(token, start, stop + len(token) - 1)
            while at >= 0:
                found.append((token, at))
                at = text.find(token, at + 1, stop + len(token) - 1)
        return found

    def first(self) -> int | None:
        """The text position where the first match starts. Every span of an occurrence at ``at``
        starts at or after the origin of ``at - 1``, and origins grow with positions: the search for a
        token stops where that bound reaches the best start found."""
        best: int | None = None
        text, origin = self.norm.text, self.norm.origin
        for token in (*self.bigrams, *self.chars, *self.words):
            at = text.find(token)
            while at >= 0 and (best is None or origin(max(at - 1, 0)) < best):
                starts = [start for start, _end in self._token_spans(token, at)]
                if starts:
                    best = min(starts) if best is None else min(best, *starts)
                at = text.find(token, at + 1)
        return best

    def spans(self, start: int, stop: int) -> list[Span]:
        """Every match of a wanted token starting in [start, stop) of the normalized text, merged."""
        spans: list[Span] = []
        for token, at in self._each(start, stop):
            spans += self._token_spans(token, at)
        return _merged(spans)


def fast_snippet(
    text: str, query: ParsedQuery, length: int = SNIPPET_CHARS, whole: bool = False
) -> str | None:
    """``make_snippet(text, query, length)`` (``whole``: ``mark_matches(text, query)``) with
    ``str.find``, or None where that is not valid (see ``_Finder``); ``text`` is already
    whitespace-flattened."""
    if whole:
        length = len(text)
    wanted = query.highlight_tokens()
    if not wanted:
        return _render(text, [], length)  # nothing to mark: the first ``length`` characters
    norm = _Normalized(text, only_cjk=all(_CJK_TOKEN.fullmatch(token) for token in wanted))
    if not norm.simple and _SPLITS_RUNS.search(norm.text):
        return None
    finder = _Finder(norm, wanted)
    first = finder.first()
    if first is None:
        return _render(text, [], length)
    if whole:
        return _render(text, finder.spans(0, len(norm.text)), length, whole=True)
    end = min(len(text), max(0, first - LEAD_CHARS) + length)
    # Every span starts at or after ``first`` (from an occurrence at or after the normalized position
    # of ``first - 1``: the second character of a bigram maps after its first); spans starting at or
    # after ``end`` are cut away by the window (which, when very short, may end before ``first``).
    start = norm.position(max(0, first - 1))
    return _render(text, finder.spans(start, norm.position(max(end, first + 1)) + 1), length)


def mark_matches(text: str, query: ParsedQuery) -> str:
    """All of ``text`` (a title), HTML-escaped, with the matches ``make_snippet`` marks in <mark>.

    A result page marks twenty: found with ``str.find`` as snippets are, by the definition where that
    is not valid.
    """
    text = " ".join(text.split())
    fast = fast_snippet(text, query, whole=True)
    return fast if fast is not None else _render(text, _match_spans(text, query), len(text), whole=True)


def make_snippet(text: str, query: ParsedQuery, length: int = SNIPPET_CHARS) -> str:
    """Up to ``length`` characters of ``text`` around the first match, HTML-escaped, matches in <mark>."""
    text = " ".join(text.split())
    fast = fast_snippet(text, query, length)
    return fast if fast is not None else _render(text, _match_spans(text, query), length)
