"""One text analysis for both search backends (docs/architecture.md step 7).

Indexing and querying go through the same functions, so the embedded index and Elasticsearch see the
same tokens and return the same items: Chinese (and other CJK) runs become overlapping bigrams (a lone
character stays a unigram), other words are NFKC-normalized (full-width → half-width) and lowercased,
digits are kept. The distinct CJK characters of a text are kept apart so a one-character query finds
the character anywhere. The query language is shared too: terms, "quoted phrases", -exclusion, OR.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

# CJK ideographs (basic, extension A, compatibility, extensions B+), kana and Hangul syllables.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]")
_QUERY_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_OR_WORDS = frozenset({"OR", "|"})


@dataclass(frozen=True, slots=True)
class Token:
    """A token and the span of original text it came from."""

    text: str
    start: int
    end: int


def is_cjk(char: str) -> bool:
    """Whether ``char`` is analysed by bigrams (Han, kana, Hangul)."""
    return bool(_CJK.fullmatch(char))


def _normalized_chars(text: str) -> Iterator[tuple[str, int]]:
    # Character by character so every normalized character keeps its original offset (for snippets).
    for offset, char in enumerate(text):
        for norm in unicodedata.normalize("NFKC", char).lower():
            yield norm, offset


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` in order: CJK bigrams (or a lone unigram) and lowercased words."""
    tokens: list[Token] = []
    run: list[tuple[str, int]] = []  # current run of (char, original offset)
    run_is_cjk = False

    def flush() -> None:
        if not run:
            return
        if run_is_cjk:
            if len(run) == 1:
                tokens.append(Token(run[0][0], run[0][1], run[0][1] + 1))
            for (a, start), (b, end) in itertools.pairwise(run):
                tokens.append(Token(a + b, start, end + 1))
        else:
            tokens.append(Token("".join(c for c, _ in run), run[0][1], run[-1][1] + 1))
        run.clear()

    for char, offset in _normalized_chars(text):
        cjk = is_cjk(char)
        if not (cjk or char.isalnum()):
            flush()
            continue
        if run and cjk != run_is_cjk:
            flush()
        run_is_cjk = cjk
        run.append((char, offset))
    flush()
    return tokens


def token_text(text: str) -> str:
    """``text`` analysed and joined by spaces: what both backends store in their token fields."""
    return " ".join(token.text for token in tokenize(text))


def cjk_chars(*texts: str) -> list[str]:
    """Distinct CJK characters of ``texts``, sorted: matched by one-character queries."""
    return sorted({char for text in texts for char, _ in _normalized_chars(text) if is_cjk(char)})


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
    tokens = tuple(token.text for token in tokenize(text))
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
