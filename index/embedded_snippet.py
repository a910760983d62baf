"""Snippets for a page of hits at a fraction of the cost, identical to ``index.snippet.make_snippet``.

``make_snippet`` normalizes and tokenizes the whole text (~0.4 ms for a 600-character notice on a
quiet core: 8 ms for a page of 20 hits, most of a search), though its answer depends only on the
window around the first match. So it is asked about a slice around where the first match can be:

- the first match starts at or after the first place a wanted token occurs as a substring of the
  normalized text (found chunk by chunk, so an early match normalizes little);
- the slice is cut at punctuation or spaces, where no token crosses, so its tokens are the text's
  tokens there; it starts before the window's lead (so the leading "…" still shows) and is followed
  by a filler character that no text contains and no token matches, so the window never ends early;
- if the window reaches the filler, or the slice holds no match although a wanted token occurs as a
  substring (inside a longer word, say), the whole text is used.
"""

from __future__ import annotations

from index.analysis import ParsedQuery, normalize
from index.snippet import LEAD_CHARS, SNIPPET_CHARS, make_snippet

# Characters that are neither CJK nor letters/digits, even after NFKC: tokens never cross them.
_CUTS = frozenset(" ，。；：！？、,.;:!?")
_FILLER = "\uffff"  # a noncharacter: not in sanitized text, not a token, escaped as itself
_SHORT = 300  # characters: shorter texts are not worth slicing
_CHUNK = 256  # characters normalized at a time while looking for the first match


def _cut_after(text: str, start: int) -> int:
    """The first position at or after ``start`` that follows a cut character (or the end)."""
    return next((at + 1 for at in range(start, len(text)) if text[at] in _CUTS), len(text))


def _cut_before(text: str, end: int) -> int:
    """The last position before ``end`` that follows a cut character (or the start)."""
    return next((at + 1 for at in range(end - 1, -1, -1) if text[at] in _CUTS), 0)


def first_occurrence(text: str, tokens: set[str]) -> int | None:
    """Where the first of ``tokens`` occurs in ``text`` once normalized (in ``text``'s positions), or
    None: no match of any of them can start earlier."""
    start, size = 0, _CHUNK
    while start < len(text):
        end = _cut_after(text, start + size)
        norm, offsets = normalize(text[start:end])
        found = [at for at in (norm.find(token) for token in tokens) if at >= 0]
        if found:
            first = min(found)
            return start + (offsets[first] if offsets is not None else first)
        start, size = end, size * 2
    return None


def page_snippet(text: str, query: ParsedQuery) -> str:
    """``make_snippet(text, query)``, computed on a slice of ``text`` when that gives the same."""
    flat = " ".join(text.split())
    if len(flat) <= _SHORT or _FILLER in flat:
        return make_snippet(flat, query)
    first = first_occurrence(flat, query.highlight_tokens())
    at = first or 0
    # The window runs from LEAD_CHARS before the first match for SNIPPET_CHARS: the slice covers it.
    begin = _cut_before(flat, at - LEAD_CHARS - 1) if at > LEAD_CHARS + 1 else 0
    if begin and flat[begin] == " ":
        begin += 1  # make_snippet would strip it, moving every position
    if begin >= at - LEAD_CHARS:
        begin = 0
    end = _cut_after(flat, max(SNIPPET_CHARS, at - LEAD_CHARS + SNIPPET_CHARS) + 2)
    if end >= len(flat) - 1:  # the window may reach the end of the text: no trailing "…" then
        return make_snippet(flat, query)
    snippet = make_snippet(flat[begin:end] + _FILLER * (SNIPPET_CHARS + 1), query)
    if _FILLER in snippet or (first is not None and "<mark>" not in snippet):
        return make_snippet(flat, query)
    return snippet
