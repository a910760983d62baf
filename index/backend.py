"""The SearchBackend interface (step 7 of docs/architecture.md) and the data it speaks.

Two implementations answer the same queries the same way: index.embedded (tantivy files, the default)
and index.elastic (Elasticsearch). ``open_backend`` picks one from the settings. What "the same way"
means, and the few places where the backends differ, is written down in docs/search.md.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

PUBLIC_STATES: tuple[str, ...] = ("approved",)
FACETS = ("unit", "level", "category", "month")  # the facet names a SearchResult may carry
FACET_SIZE = 20  # buckets per facet, largest counts first (ties: value ascending)
SUGGEST_LIMIT = 8
RELATED_LIMIT = 5


class SearchBackendError(RuntimeError):
    """The search engine could not apply or answer a request (unreachable, refused, broken)."""


class InvalidCursor(ValueError):
    """A ``search_after`` cursor that this backend did not issue (or for another sort)."""


@dataclass(slots=True)
class SearchDocument:
    """The indexed projection of one item (built by index.document from the DB), in any state:
    staff search everything, the public only what ``PUBLIC_STATES`` allows."""

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
    # Region codes of the unit and its ancestors (root first): "this region and below" is one term.
    region_path: list[str] = field(default_factory=list)
    # Id of the public original this item reposts: with collapsing on, the item is hidden behind it.
    # None for originals, and for reposts whose original is not public (they stand on their own).
    collapse_into: int | None = None
    month: str = ""  # "YYYY-MM" of sort_date in the configured zone (index.document fills it)

    @property
    def sort_date(self) -> datetime:
        """The date used for date sorting and date filters: published, else first seen."""
        return self.published_at or self.first_seen_at


@dataclass(slots=True)
class SearchQuery:
    """A search request. ``text`` may be empty (browse by filters, newest first).

    ``states`` defaults to what the public may see; only staff routes widen it (None: every state).
    ``cursor`` (from ``SearchResult.next_cursor``) continues after the previous page without an offset
    limit; with a cursor, ``offset`` is ignored.
    """

    text: str = ""
    unit_subtree: int | None = None  # unit id: that unit and everything under it
    unit_level: str | None = None
    unit_type: str | None = None
    region: str | None = None  # region code: that region and everything under it
    category: str | None = None
    source_id: int | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    has_attachments: bool | None = None
    states: tuple[str, ...] | None = PUBLIC_STATES
    sort: str = "relevance"  # relevance | date
    recency_boost: bool = False  # relevance sort only: newer documents weigh more (docs/search.md)
    collapse_reposts: bool = True  # hide reposts of a public original behind it (with a count)
    facets: bool = False  # compute FACETS over all matching documents
    limit: int = 20
    offset: int = 0
    cursor: str | None = None


@dataclass(slots=True)
class SearchHit:
    """One result: enough to render a result line without loading the item."""

    item_id: int
    score: float
    title: str
    snippet: str  # plain text with matches wrapped in <mark>...</mark>; everything else HTML-escaped
    title_marked: str  # the whole title, escaped and marked as the snippet is
    url: str
    unit_id: int
    unit_name: str
    published_at: datetime | None
    unit_slug: str = ""
    source_name: str = ""
    category: str | None = None
    state: str = "approved"
    has_attachments: bool = False
    sort_date: datetime | None = None
    # With collapsing on: how many reposts (in the query's states) are folded into this hit.
    repost_count: int = 0


@dataclass(frozen=True, slots=True)
class FacetCount:
    """One facet bucket: the filter value, what to show for it, and the number of matching documents."""

    value: str
    label: str
    count: int


@dataclass(slots=True)
class SearchResult:
    """The hits of one page, the total number of matching documents, facets if asked, and the cursor
    of the next page (None on the last page)."""

    total: int
    hits: list[SearchHit] = field(default_factory=list)
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A title offered while the visitor types."""

    item_id: int
    title: str


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk write did: documents written or deleted, and the items that failed (id -> reason);
    the outbox keeps the failed ones for another attempt."""

    written: int
    failed: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CatchUp:
    """Changes made while a rebuild read the database, applied to the new index before it is swapped in:
    documents to write (an older ``version`` never replaces a newer one) and items to delete."""

    documents: list[SearchDocument] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)


# Called by ``rebuild`` once its documents are written and before the swap (index.outbox.reindex): the
# changes come in chunks, so a catch-up of many items (after a bulk import) never sits in memory whole.
CatchUpSource = Callable[[], Iterable[CatchUp]]


@dataclass(frozen=True, slots=True)
class IndexStats:
    """Size and content of the index, for ``xinlian index status`` and the health page."""

    backend: str  # "embedded" or "elasticsearch"
    documents: int
    size_bytes: int | None
    by_state: dict[str, int]
    location: str  # directory or index name behind the read alias


@dataclass(frozen=True, slots=True)
class BackendHealth:
    """Whether the backend answers, and what it said."""

    ok: bool
    detail: str


class SearchBackend(Protocol):
    """What the hub needs from a search engine."""

    def ensure_ready(self) -> None:
        """Create indices/files if missing. Idempotent."""

    def upsert(self, documents: list[SearchDocument]) -> None:
        """Index or replace documents (never replacing a newer ``version``); raises on any failure."""

    def delete(self, item_ids: list[int]) -> None:
        """Remove documents; unknown ids are not an error."""

    def bulk(self, documents: list[SearchDocument], deletes: list[int]) -> BulkResult:
        """Upsert and delete in one go, reporting failures per item instead of raising for them
        (raises SearchBackendError only when the backend cannot be reached at all)."""

    def search(self, query: SearchQuery) -> SearchResult:
        """Answer a query (raises InvalidCursor for a cursor it did not issue)."""

    def suggest(
        self, prefix: str, limit: int = SUGGEST_LIMIT, states: tuple[str, ...] | None = PUBLIC_STATES
    ) -> list[Suggestion]:
        """Titles matching what has been typed so far (the last word may be incomplete), newest first."""

    def related(
        self, item_id: int, limit: int = RELATED_LIMIT, states: tuple[str, ...] | None = PUBLIC_STATES
    ) -> list[SearchHit]:
        """Documents like ``item_id`` (more-like-this), leaving out the item itself and every member of
        its repost group (its original and the other reposts of that original)."""

    def count(self) -> int:
        """Number of documents in the index."""

    def stats(self) -> IndexStats:
        """Size and content of the index."""

    def health(self) -> BackendHealth:
        """Whether the backend answers; never raises."""

    def clear(self) -> None:
        """Drop every document."""

    def rebuild(self, documents: Iterable[SearchDocument], catch_up: CatchUpSource | None = None) -> int:
        """Replace the whole index with ``documents`` in one swap (searches keep answering meanwhile);
        ``catch_up`` is called after the last document is written, and what it returns is applied to the
        new index before the swap. Returns the number of documents in the new index."""

    def close(self) -> None:
        """Release connections and files."""


def repost_group(doc: SearchDocument) -> int:
    """The group a document belongs to for collapsing and "related": its original's id, else its own."""
    return doc.collapse_into if doc.collapse_into is not None else doc.item_id


def encode_cursor(kind: str, values: list[Any]) -> str:
    """An opaque, URL-safe cursor; ``kind`` names the sort it belongs to."""
    raw = json.dumps([kind, values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> list[Any]:
    """The values of a cursor made by ``encode_cursor(kind, ...)``; InvalidCursor otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found_kind, values = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise InvalidCursor(f"not a search cursor: {cursor[:40]!r}") from exc
    if found_kind != kind or not isinstance(values, list):
        raise InvalidCursor(f"cursor of a {found_kind!r} search used for a {kind!r} search")
    return values
