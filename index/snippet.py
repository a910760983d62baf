"""Search snippets shared by both backends: a window of the text with matches in <mark>."""

from __future__ import annotations

import html

from index.analysis import ParsedQuery, is_cjk, tokenize

SNIPPET_CHARS = 120
LEAD_CHARS = 30  # context kept before the first match


def _match_spans(text: str, query: ParsedQuery) -> list[tuple[int, int]]:
    wanted = query.highlight_tokens()
    chars = {token for token in wanted if len(token) == 1 and is_cjk(token)}
    spans: list[tuple[int, int]] = []
    for token in tokenize(text):
        if token.text in wanted:
            spans.append((token.start, token.end))
        elif chars and is_cjk(token.text[0]):
            # A one-character query term marks that character inside any bigram.
            for offset, char in enumerate(token.text):
                if char in chars:
                    spans.append((token.start + offset, token.start + offset + 1))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def make_snippet(text: str, query: ParsedQuery, length: int = SNIPPET_CHARS) -> str:
    """Up to ``length`` characters of ``text`` around the first match, HTML-escaped, matches in <mark>."""
    text = " ".join(text.split())
    spans = _match_spans(text, query)
    start = max(0, spans[0][0] - LEAD_CHARS) if spans else 0
    end = min(len(text), start + length)
    parts: list[str] = ["…"] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        parts.append(html.escape(text[cursor:span_start]))
        parts.append(f"<mark>{html.escape(text[span_start:span_end])}</mark>")
        cursor = span_end
    parts.append(html.escape(text[cursor:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)
