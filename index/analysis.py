"""One text analysis for both search backends (docs/architecture.md step 7).

Indexing and querying go through the same functions, so the embedded index and Elasticsearch see the
same tokens and return the same items: Chinese (and other CJK) runs become overlapping bigrams (a lone
character stays a unigram), other words are NFKC-normalized (full-width → half-width) and lowercased,
digits are kept. The distinct CJK characters of a text are kept apart so a one-character query finds
the character anywhere. The query language is shared too: terms, "quoted phrases", -exclusion, OR.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import add
from typing import NamedTuple

from index.vectorized import analyse_documents

# CJK ideographs (basic, extension A, compatibility, extensions B+), kana and Hangul syllables.
_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_CJK_RUNS = re.compile(f"[{_CJK_CLASS}]+")
# A run of CJK characters, or a run of letters and digits (underscore separates). A word run may still
# swallow CJK characters that follow it; _split_word cuts those off (cheaper than excluding them here).
_RUN = re.compile(f"([{_CJK_CLASS}]+)|([^\\W_]+)")
_WORD_PIECE = re.compile(f"([{_CJK_CLASS}]+)|([^{_CJK_CLASS}]+)")
# CJK unified ideographs are stable under NFKC (never decomposed, never composed with a neighbour), so
# NFKC of the text between them, piece by piece, is NFKC of the whole; most of a Chinese text is skipped.
_NOT_HAN = re.compile("[^\u4e00-\u9fff]+")
VECTORIZE_FROM = 512  # characters: smaller batches are tokenized by the regex path
_QUERY_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_OR_WORDS = frozenset({"OR", "|"})


class Token(NamedTuple):
    """A token and the span of original text it came from."""

    text: str
    start: int
    end: int


def is_cjk(char: str) -> bool:
    """Whether ``char`` is analysed by bigrams (Han, kana, Hangul)."""
    return bool(_CJK.fullmatch(char))


def _nfkc_piece(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group())


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, faster on Chinese text (ideographs are left alone)."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    return _NOT_HAN.sub(_nfkc_piece, text)


def normalize(text: str) -> tuple[str, list[int] | None]:
    """NFKC + lowercase, and the original offset of every normalized character (None: unchanged).

    Whole-string normalization is the fast path; when it changes the length, characters are
    normalized one by one so that snippets can still map tokens back to the original text.
    """
    whole = nfkc(text).lower()
    if len(whole) == len(text):
        return whole, None
    chars: list[str] = []
    offsets: list[int] = []
    for offset, char in enumerate(text):
        for norm in unicodedata.normalize("NFKC", char).lower():
            chars.append(norm)
            offsets.append(offset)
    return "".join(chars), offsets


def _runs(norm: str) -> Iterator[tuple[int, int, bool]]:
    """(start, end, is CJK) of every run of CJK characters and of every word in ``norm``."""
    for match in _RUN.finditer(norm):
        start, end = match.span()
        if match.group(1) is not None:
            yield start, end, True
        elif match.group(2).isascii() or not _CJK.search(match.group(2)):
            yield start, end, False
        else:
            for piece in _WORD_PIECE.finditer(match.group(2)):
                yield start + piece.start(), start + piece.end(), piece.group(1) is not None


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` in order: CJK bigrams (or a lone unigram) and lowercased words."""
    norm, offsets = normalize(text)

    def token(start: int, end: int) -> Token:
        if offsets is None:
            return Token(norm[start:end], start, end)
        return Token(norm[start:end], offsets[start], offsets[end - 1] + 1)

    tokens: list[Token] = []
    for start, end, cjk in _runs(norm):
        if cjk and end - start > 1:
            tokens.extend(token(i, i + 2) for i in range(start, end - 1))
        else:
            tokens.append(token(start, end))
    return tokens


def _add_runs(tokens: list[str], runs: list[tuple[str, str]]) -> None:
    for cjk, word in runs:  # the runs of ``_runs``, as strings
        if len(cjk) > 1:
            tokens.extend(map(add, cjk[:-1], cjk[1:]))  # overlapping bigrams, built in C
        elif cjk or word.isascii() or not _CJK.search(word):
            tokens.append(cjk or word)
        else:
            _add_runs(tokens, _WORD_PIECE.findall(word))


def _normalized_tokens(norm: str) -> list[str]:
    """The tokens of normalized text: ``tokenize`` without offsets, per run rather than per character."""
    tokens: list[str] = []
    _add_runs(tokens, _RUN.findall(norm))
    return tokens


def token_strings(text: str) -> list[str]:
    """The token texts of ``text`` (``tokenize`` without offsets, faster: for indexing)."""
    return _normalized_tokens(normalize(text)[0])


def token_text(text: str) -> str:
    """``text`` analysed and joined by spaces: what both backends store in their token fields."""
    return " ".join(token_strings(text))


def _chars_of(norms: list[str]) -> list[str]:
    return sorted(set("".join(_CJK_RUNS.findall(" ".join(norms)))))


def cjk_chars(*texts: str) -> list[str]:
    """Distinct CJK characters of ``texts``, sorted: matched by one-character queries."""
    return _chars_of([normalize(text)[0] for text in texts])


@dataclass(frozen=True, slots=True)
class IndexedText:
    """What both backends store for a document's title and body (``token_text`` and ``cjk_chars``)."""

    title_tokens: str
    body_tokens: str
    chars: list[str]


def _indexed(title_norm: str, body_norm: str) -> IndexedText:
    return IndexedText(
        " ".join(_normalized_tokens(title_norm)),
        " ".join(_normalized_tokens(body_norm)),
        _chars_of([title_norm, body_norm]),
    )


def index_text(title: str, text: str) -> IndexedText:
    """The indexed fields of a document, normalizing each text once."""
    return _indexed(normalize(title)[0], normalize(text)[0])


def index_texts_by_regex(documents: list[tuple[str, str]]) -> list[IndexedText]:
    """``index_texts`` by the regex path: the reference the numpy path is tested against."""
    return [index_text(title, text) for title, text in documents]


def index_texts(documents: list[tuple[str, str]]) -> list[IndexedText]:
    """``index_text`` of many (title, text) pairs, in numpy passes over chunks of documents
    (index/vectorized.py; several times faster than the regex path per document when batched)."""
    if sum(len(title) + len(text) for title, text in documents) < VECTORIZE_FROM:
        # numpy's fixed cost (~75 µs a call) outweighs its speed (break-even: ~250 characters of
        # Chinese, ~700 of English)
        return index_texts_by_regex(documents)
    return [IndexedText(title, body, chars) for title, body, chars in analyse_documents(documents, nfkc)]


@dataclass(frozen=True, slots=True)
class Term:
    """One query term: a phrase of tokens that must appear in order, or a single CJK character."""

    tokens: tuple[str, ...]

    @property
    def char(self) -> str | None:
        """The character of a one-CJK-character term (looked up among the document's characters)."""
        if len(self.tokens) == 1 and len(self.tokens[0]) == 1 and is_cjk(self.tokens[0]):
            return self.tokens[0]
        return None


@dataclass(slots=True)
class ParsedQuery:
    """``must``: every group must match, a group matches when any of its terms does; ``must_not``."""

    must: list[list[Term]] = field(default_factory=list)
    must_not: list[Term] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """No condition on the text at all (browse by filters)."""
        return not self.must and not self.must_not

    def highlight_tokens(self) -> set[str]:
        """Tokens to mark in snippets (every positive term)."""
        return {token for group in self.must for term in group for token in term.tokens}


def _term(text: str) -> Term | None:
    tokens = tuple(token_strings(text))
    return Term(tokens) if tokens else None


def parse_query(text: str) -> ParsedQuery:
    """Parse the query language: ``a b`` (both), ``"a b"`` (phrase), ``-a`` (not), ``a OR b``."""
    parsed = ParsedQuery()
    join_next = False
    for match in _QUERY_PART.finditer(text):
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        if bare in _OR_WORDS:
            join_next = bool(parsed.must)
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        term = _term(quoted if quoted is not None else bare or "")
        if term is None:
            continue
        if negated:
            parsed.must_not.append(term)
        elif join_next:
            parsed.must[-1].append(term)
        else:
            parsed.must.append([term])
        join_next = False
    return parsed
