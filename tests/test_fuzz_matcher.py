"""Fuzzing the lexicon matcher (moderation/matcher.py) and the normalization it runs on.

Screening reads every crawled title and body: any Unicode, including characters outside the BMP,
combining marks, zero-width and bidi controls, full-width and traditional forms, and lone
surrogates from badly decoded pages. Screening must not fail on any of it, and a hit must point at
the term it names.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hub.settings import ModerationSettings
from moderation.lexicon import Entry, Lexicon, load_lexicon
from moderation.matcher import Matcher
from moderation.normalize import normalize, normalize_term
from moderation.screen import ATTACHMENTS, TEXT, TITLE, ScreenOptions, screen
from tests.fuzzing import fuzz

# Characters that stress the matcher and the normalization: Han (simplified and traditional), astral
# Han and emoji, combining marks, zero-width joiners and bidi marks, variation selectors, full-width
# and circled forms, separators, the field separator, a lone surrogate.
TRICKY = st.sampled_from(
    [*"敏感词秘密機密绝密内部资料路口交通口交法輪", "𠮷", "😀", "👨\u200d👩\u200d👧", "\U0001d400",
     "\U000e0041", "\u0301", "\u0308", "\u20dd", "\u200b", "\u200d", "\u202e", "\ufe0f", "\ufe00",
     "Ａ", "①", "⑩", "ﬁ", "ß", "İ", " ", "\u3000", "@", "·", "\n", "\uffff", "\ud800", "\x00", "a", "B", "1"]
)  # fmt: skip
TEXTS = st.one_of(
    st.lists(TRICKY, max_size=40).map("".join),
    st.text(max_size=60),
    st.text(st.characters(codec="utf-8"), max_size=60),
)
TERM = st.one_of(st.lists(TRICKY, min_size=1, max_size=4).map("".join), st.text(min_size=1, max_size=4))
TERMS = st.lists(TERM, min_size=1, max_size=8)


def _lexicon(terms: list[str], whitelist: list[str]) -> Lexicon:
    entries = []
    for number, (term, white) in enumerate([(t, False) for t in terms] + [(t, True) for t in whitelist]):
        normalized = normalize_term(term)
        if normalized:  # the lexicon loader refuses terms that normalize to nothing
            entries.append(
                Entry(
                    term,
                    normalized,
                    "whitelist" if white else "vulgar",
                    0 if white else 3,
                    white,
                    "f",
                    number,
                )
            )
    return Lexicon(tuple(entries), "fuzz", ("f",))


def _occurrences(text: str, term: str) -> list[tuple[int, int]]:
    found, at = [], text.find(term)
    while at >= 0:
        found.append((at, at + len(term)))
        at = text.find(term, at + 1)
    return found


@fuzz(400)
@given(TERMS, st.lists(st.lists(TRICKY, min_size=1, max_size=6).map("".join), max_size=3), TEXTS)
@example(["秘密"], [], "𠮷秘密😀秘\u0301密")
@example(["口交"], ["路口交通"], "前方路口交通管制，口交")
def test_hits_are_exactly_the_unwhitelisted_occurrences(
    terms: list[str], whitelist: list[str], text: str
) -> None:
    """Every hit's span of the normalized text is its term's normalized form; every occurrence of a
    term is a hit unless a whitelist match contains it; hits are in text order; no exception on any
    Unicode (astral, combining, zero-width, lone surrogates)."""
    lexicon = _lexicon(terms, whitelist)
    matcher = Matcher(lexicon)
    normalized = normalize(text)
    hits = matcher.find(normalized.text)
    for hit in hits:
        assert normalized.text[hit.start : hit.end] == hit.entry.normalized
        start, end = normalized.original_span(hit.start, hit.end)
        assert 0 <= start < end <= len(text)
    assert hits == sorted(hits, key=lambda hit: (hit.start, hit.end))
    allowed = [
        span for e in lexicon.entries if e.whitelist for span in _occurrences(normalized.text, e.normalized)
    ]
    expected = {
        span
        for entry in lexicon.entries
        if not entry.whitelist
        for span in _occurrences(normalized.text, entry.normalized)
        if not any(a <= span[0] and span[1] <= b for a, b in allowed)
    }
    assert {(hit.start, hit.end) for hit in hits} == expected


@fuzz()
@given(TEXTS)
def test_normalization_maps_every_span_back(text: str) -> None:
    """normalize never raises, and every span of its text maps back to a non-empty span of the original."""
    normalized = normalize(text)
    size = len(normalized.text)
    for start in range(0, size, max(1, size // 7)):
        for end in range(start + 1, size + 1, max(1, size // 5)):
            first, last = normalized.original_span(start, end)
            assert 0 <= first < last <= len(text)


@pytest.fixture(scope="module")
def shipped() -> tuple[Matcher, dict[str, str]]:
    """The matcher of the shipped lexicons (config/lexicons/) and their terms' normalized forms."""
    lexicon = load_lexicon(ModerationSettings().lexicon_dir)
    return Matcher(lexicon), {entry.term: entry.normalized for entry in lexicon.entries}


SHIPPED_WORDS = st.sampled_from(
    ["秘密", "機密", "绝 密", "内部资料", "不得外传", "口交", "路口交通", "身份证号", "13800138000"]
)
FIELD = st.lists(st.one_of(TRICKY, SHIPPED_WORDS), max_size=30).map("".join)


@fuzz()
@given(FIELD, FIELD, st.lists(FIELD, max_size=3), st.lists(st.text(max_size=30), max_size=3))
def test_screen_hits_point_at_their_terms(
    shipped: tuple[Matcher, dict[str, str]], title: str, text: str, attachments: list[str], links: list[str]
) -> None:
    """Screening any title, text, attachment names and links never raises; every lexicon hit's span
    lies inside its field and, normalized, contains the term the hit names."""
    matcher, terms = shipped
    result = screen(
        text, title, links, matcher=matcher, options=ScreenOptions(), attachment_names=attachments
    )
    fields = {TITLE: title, TEXT: text, ATTACHMENTS: "\n".join(attachments)}
    for hit in result.hits:
        if hit.field not in fields:
            continue
        assert 0 <= hit.start < hit.end <= len(fields[hit.field])
        if hit.term in terms:
            assert terms[hit.term] in normalize(fields[hit.field][hit.start : hit.end]).text
