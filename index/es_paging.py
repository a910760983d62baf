"""Order and ``search_after`` cursors of the Elasticsearch backend (docs/search.md, Order and Pagination).

Date order sorts on (sort_date, item_id), relevance on (_score, sort_date, item_id), all descending,
so every document has one place and a cursor of the last hit's sort values continues exactly after
it. A relevance cursor with the recency boost also carries the instant the boost was computed from:
the next page scores with the same instant, so scores, and therefore the order, do not drift between
pages. Cursors are ``index.backend.encode_cursor`` strings of their own kinds, refused by any other
backend or sort.

A score is reported as a 32-bit float. Elasticsearch reads a ``search_after`` score back as that same
float, but an API-compatible server may keep unrounded scores and compare the cursor with those
(osmem does: the last hit comes back again, or its ties are lost). So a relevance page does not trust
the score comparison at the boundary: it asks for everything scoring up to the next float above the
cursor's score, and drops the hits that sort at or before the cursor by their reported values
(``Page.seen``). Exact on both; the hits dropped are the cursor's ties already shown, and a few of
the next score up.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from index.backend import InvalidCursor, decode_cursor, encode_cursor

DATE = "es-date"
RELEVANCE = "es-relevance"
BY_DATE: list[Any] = [{"sort_date": {"order": "desc"}}, {"item_id": {"order": "desc"}}]
BY_RELEVANCE: list[Any] = ["_score", *BY_DATE]


def _above(score: float) -> float:
    """A number above every value that rounds to the 32-bit float ``score``, and below the next one up."""
    bits = struct.unpack("<I", struct.pack("<f", score))[0]
    following = struct.unpack("<f", struct.pack("<I", bits + 1))[0]
    here = struct.unpack("<f", struct.pack("<I", bits))[0]
    return math.nextafter((here + following) / 2, math.inf)


@dataclass(frozen=True, slots=True)
class Page:
    """Where a page starts: after the cursor's sort values (or at an offset), and the boost's instant."""

    kind: str
    after: list[Any] | None  # sort values of the last hit shown
    offset: int
    now: datetime

    @property
    def search_after(self) -> list[Any] | None:
        """The ``search_after`` of the request (a relevance one reaching past the cursor's ties)."""
        if self.after is None or self.kind != RELEVANCE:
            return self.after
        return [_above(self.after[0]), *self.after[1:]]

    def seen(self, sort: list[Any]) -> bool:
        """Whether a hit with the sort values ``sort`` sorts at or before the cursor (shown already)."""
        if self.after is None or self.kind != RELEVANCE:
            return False
        score, last_score = sort[0], self.after[0]
        return bool(score > last_score or (score == last_score and sort[1:] >= self.after[1:]))


def sort_clause(kind: str) -> list[Any]:
    """The ``sort`` of a search of ``kind``."""
    return BY_RELEVANCE if kind == RELEVANCE else BY_DATE


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def start_of_page(kind: str, cursor: str | None, offset: int, now: datetime) -> Page:
    """The page a search starts at: after ``cursor`` (offset ignored) or at ``offset``."""
    if cursor is None:
        return Page(kind, None, offset, now)
    values = decode_cursor(cursor, kind)
    width = len(sort_clause(kind))
    if kind == RELEVANCE and len(values) == width + 1 and _number(values[-1]):
        now = datetime.fromtimestamp(values.pop() / 1000, UTC)
    if len(values) != width or not all(_number(value) for value in values):
        raise InvalidCursor(f"malformed {kind} cursor")
    return Page(kind, values, 0, now)


def next_cursor(page: Page, last_sort: list[Any], boosted: bool) -> str:
    """The cursor of the page after the one whose last hit had the sort values ``last_sort``."""
    values = list(last_sort)
    if page.kind == RELEVANCE and boosted:
        values.append(int(page.now.timestamp() * 1000))
    return encode_cursor(page.kind, values)
