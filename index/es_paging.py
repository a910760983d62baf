"""Order and ``search_after`` cursors of the Elasticsearch backend (docs/search.md, Order and Pagination).

Date order sorts on (sort_date, item_id), relevance on (_score, sort_date, item_id), all descending,
so every document has one place and a cursor of the last hit's sort values continues exactly after
it. A relevance cursor with the recency boost also carries the instant the boost was computed from:
the next page scores with the same instant, so scores, and therefore the order, do not drift between
pages. Cursors are ``index.backend.encode_cursor`` strings of their own kinds, refused by any other
backend or sort.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from index.backend import InvalidCursor, decode_cursor, encode_cursor

DATE = "es-date"
RELEVANCE = "es-relevance"
BY_DATE: list[Any] = [{"sort_date": {"order": "desc"}}, {"item_id": {"order": "desc"}}]
BY_RELEVANCE: list[Any] = ["_score", *BY_DATE]


@dataclass(frozen=True, slots=True)
class Page:
    """Where a page starts: ``search_after`` values (or an offset) and the recency boost's instant."""

    kind: str
    search_after: list[Any] | None
    offset: int
    now: datetime


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
