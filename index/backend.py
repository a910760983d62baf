"""The SearchBackend interface (step 7 of docs/architecture.md) and the data it speaks.

Two implementations answer the same queries the same way: index.embedded (SQLite FTS5, the default)
and index.elastic (Elasticsearch). ``open_backend`` picks one from the settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class SearchBackendError(RuntimeError):
    """The search engine could not apply or answer a request (unreachable, refused, broken)."""


@dataclass(slots=True)
class SearchDocument:
    """The indexed projection of one approved item (built by index.document from the DB)."""

    item_id: int
    version: int  # grows with every revision / state change: an older write never wins
    title: str
    text: str
    summary: str
    url: str  # original page at the source
    unit_id: int
    unit_name: str
    unit_slug: str
    unit_level: str
    unit_type: str
    unit_ancestors: list[int]  # root .. unit: "this unit and its subtree" is one term filter
    region_code: str | None
    source_id: int
    source_name: str
    category: str | None
    published_at: datetime | None
    first_seen_at: datetime
    has_attachments: bool
    state: str

    @property
    def sort_date(self) -> datetime:
        """The date used for date sorting and date filters: published, else first seen."""
        return self.published_at or self.first_seen_at


@dataclass(slots=True)
class SearchQuery:
    """A search request. ``text`` may be empty (browse by filters, newest first)."""

    text: str = ""
    unit_subtree: int | None = None  # unit id: that unit and everything under it
    unit_level: str | None = None
    unit_type: str | None = None
    category: str | None = None
    source_id: int | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    sort: str = "relevance"  # relevance | date
    limit: int = 20
    offset: int = 0


@dataclass(slots=True)
class SearchHit:
    """One result: enough to render a result line without loading the item."""

    item_id: int
    score: float
    title: str
    snippet: str  # plain text with matches wrapped in <mark>...</mark>; everything else HTML-escaped
    url: str
    unit_id: int
    unit_name: str
    published_at: datetime | None


@dataclass(slots=True)
class SearchResult:
    """The hits of one page and the total number of matching documents."""

    total: int
    hits: list[SearchHit] = field(default_factory=list)


class SearchBackend(Protocol):
    """What the hub needs from a search engine."""

    def ensure_ready(self) -> None:
        """Create indices/tables if missing. Idempotent."""

    def upsert(self, documents: list[SearchDocument]) -> None:
        """Index or replace documents (never replacing a newer ``version``)."""

    def delete(self, item_ids: list[int]) -> None:
        """Remove documents; unknown ids are not an error."""

    def search(self, query: SearchQuery) -> SearchResult:
        """Answer a query."""

    def count(self) -> int:
        """Number of documents in the index."""

    def clear(self) -> None:
        """Drop every document."""

    def rebuild(self, documents: Iterable[SearchDocument]) -> int:
        """Replace the whole index with ``documents`` in one swap (searches keep answering meanwhile)."""

    def close(self) -> None:
        """Release connections and files."""
