"""Fuzzing the search query parser (index/analysis.parse_query) and snippets (index/snippet.make_snippet).

The query is whatever the public typed; the snippet is crawled text put into the results page as
HTML. Neither may fail, and the snippet may carry no markup but the <mark> of its matches.
"""

from __future__ import annotations

import html
import re

from hypothesis import example, given
from hypothesis import strategies as st

from index.analysis import parse_query, token_strings
from index.snippet import make_snippet, make_snippet_by_tokens
from tests.fuzzing import fuzz

QUERY_PIECES = st.sampled_from(
    ['"', "-", "OR", "|", " ", "社区", "党建", "通知", "a", "B", "Ｆｕｌｌ", "-\"", '"社区 工作"', "--",
     "-OR", "𠮷", "\u0301", "\u200b", "…", "℃", "Ⅳ", "<script>", "&amp;", "*", "?", "\x00", "\ud800", "\n"]
)  # fmt: skip
QUERIES = st.one_of(st.lists(QUERY_PIECES, max_size=12).map("".join), st.text(max_size=40))
TEXT_PIECES = st.sampled_from(
    ["社区", "党建工作", "通知", "<script>alert(1)</script>", "<mark>", "</mark>", "&lt;", "&", "\"'", "…",
     "℃", "Ⅳ", "ﬁ", "Ａ", "𠮷", "\u0301", "\u200b", "ー", "ｶ", " ", "\n\t", "abc", "Full", "\ud800", "\x00"]
)  # fmt: skip
TEXTS = st.one_of(st.lists(TEXT_PIECES, max_size=60).map("".join), st.text(max_size=300))
_TAG = re.compile(r"</?mark>")


@fuzz(300)
@given(QUERIES)
@example('"')
@example("-")
@example("OR OR -OR")
def test_parse_query_never_raises_and_terms_are_tokens(text: str) -> None:
    """Any query parses; each term is a non-empty tuple of non-empty tokens, every one of which the
    shared analysis produces (so both backends can match it)."""
    parsed = parse_query(text)
    for term in [term for group in parsed.must for term in group] + parsed.must_not:
        assert term.tokens and all(term.tokens)
        assert list(term.tokens) == token_strings(" ".join(term.tokens))
    assert all(group for group in parsed.must)


@fuzz(300)
@given(TEXTS, QUERIES, st.integers(0, 200))
@example("<script>alert(1)</script>社区", "社区", 120)
@example("a&b<c>d", "b", 3)
def test_snippet_is_html_safe_and_from_the_text(text: str, query: str, length: int) -> None:
    """A snippet never raises; its only tags are <mark>/</mark>, balanced and not nested; no other
    "<" or ">" and every "&" starts an entity; unescaped and unmarked, it is a piece of the text
    (whitespace flattened) with "…" where it was cut; and it equals the definition by tokens."""
    parsed = parse_query(query)
    snippet = make_snippet(text, parsed, length)
    assert snippet == make_snippet_by_tokens(text, parsed, length)
    tags = _TAG.findall(snippet)
    assert tags == ["<mark>", "</mark>"] * (len(tags) // 2)
    bare = _TAG.sub("", snippet)
    assert "<" not in bare and ">" not in bare
    assert re.fullmatch(r"(?:[^&]|&(?:amp|lt|gt|quot|#x27);)*", bare, re.DOTALL)
    flat = " ".join(text.split())
    plain = html.unescape(bare)
    cores = {
        plain,
        plain.removeprefix("…"),
        plain.removesuffix("…"),
        plain.removeprefix("…").removesuffix("…"),
    }
    assert any(core in flat for core in cores)
