"""Answering a SearchQuery on one tantivy searcher: order, cursors, facets, repost counts, hits.

Everything one request reads comes from the same searcher (one commit), so total, hits, facets and
repost counts agree with each other. Semantics are docs/search.md's; what the embedded backend does
differently, and why, is in its "Embedded backend" section.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, TypeVar

import tantivy
from tantivy import Occur, Order, Query

from index.analysis import ParsedQuery
from index.backend import (
    FACET_SIZE,
    FacetCount,
    InvalidCursor,
    SearchHit,
    SearchQuery,
    SearchResult,
    decode_cursor,
    encode_cursor,
)
from index.embedded_query import (
    CharWeight,
    any_term,
    char_weight,
    combine,
    search_query,
    states_filter,
)
from index.embedded_schema import F, micros, read_payload, sort_key, sort_key_parts
from index.embedded_snippet import page_snippet
from index.snippet import mark_matches

RESCORE_WINDOW = 500  # the recency boost reorders this many best matches by plain score
RECENCY_HALF_LIFE_DAYS = 90.0
# Equal scores are ordered by (sort date, item id) as docs/search.md says; to see every document that
# ties with the last one of the page, a second fetch takes up to this many more (see _fetch_best).
TIE_FETCH_LIMIT = 10_000
TIE_MARGIN = 64  # matches fetched beyond the page at first, to see the ties with its last one
# A date cursor deeper than this many newer matches is a range bound on the sort key; a shallower one
# is an offset (the newer matches counted first): tantivy's top-k by offset is cheaper than the bound.
CURSOR_OFFSET_LIMIT = 10_000
DATE_CURSOR, RELEVANCE_CURSOR = "embedded-date", "embedded-relevance"
FLAT_RELEVANCE_CURSOR = "embedded-relevance-by-date"  # relevance order of equal scores: date order
UNIT_BUCKETS = 10_000  # distinct units counted exactly before the top FACET_SIZE are kept
KEYWORD_BUCKETS = 1_000
_FACET_FIELDS = {"unit": F.unit_id, "level": F.unit_level, "category": F.category, "month": F.month}
_MICROS_PER_DAY = 86_400 * 1_000_000


@dataclass(slots=True)
class Ranked:
    """A match with what orders it: its score and its (sort date, item id) key."""

    address: tantivy.DocAddress
    score: float
    key: int


def matched(result: tantivy.SearchResult) -> int:
    """The number of matches of a search made with ``count=True``."""
    return int(result.count)  # type: ignore[attr-defined]  # missing from tantivy 0.27's stubs


def count(searcher: tantivy.Searcher, query: Query) -> int:
    """Number of documents matching ``query``."""
    return matched(searcher.search(query, 1, count=True))


def _fetch_best(searcher: tantivy.Searcher, query: Query, window: int) -> tuple[list[Any], int]:
    """The best ``window`` matches by score, plus every match tying with the last of them (bounded).

    Every fetch runs the whole query, while a larger top-k costs tantivy little (at 1M, 10,021 hits
    instead of 85: +2-8 ms on a 20-25 ms query). So the first fetch takes a margin (ties at the end of
    a page are common: equal term frequencies and lengths score alike) and, if the ties run past it,
    the second takes every tie allowed (TIE_FETCH_LIMIT) at once."""
    if window == 0:
        result = searcher.search(query, 1, count=True)
        return result.hits, matched(result)
    fetch = window + max(window, TIE_MARGIN) + 1
    while True:
        result = searcher.search(query, fetch, count=True)
        found = result.hits
        if len(found) < fetch or fetch > window + TIE_FETCH_LIMIT or found[-1][0] != found[window - 1][0]:
            return found, matched(result)
        fetch = window + TIE_FETCH_LIMIT + 1


_first, _second = itemgetter(0), itemgetter(1)  # score and address of a tantivy hit
_score_and_key = itemgetter(0, 1)


Entry = tuple[float, int, int]  # (score, sort key, -position in tantivy's hits)


def _entries(searcher: tantivy.Searcher, found: list[Any]) -> list[Entry]:
    """What orders each of ``found`` (tantivy's hits): tuples made in C by zip, a large tie group
    (7,721 hits) in ~0.9 ms instead of ~2 with a comprehension. -position: equal (score, key) pairs
    keep tantivy's order, as a stable sort would."""
    keys: list[Any] = searcher.fast_field_values(F.sort_key, list(map(_second, found))) if found else []
    if None in keys:  # a document without a sort key (none is written so): it sorts as 0
        keys = [key or 0 for key in keys]
    return list(zip(map(_first, found), keys, range(0, -len(found), -1), strict=True))


def _ranked(found: list[Any], entries: list[Entry]) -> list[Ranked]:
    return [Ranked(found[-at][1], score, key) for score, key, at in entries]


def _by_score_and_key(searcher: tantivy.Searcher, found: list[Any], limit: int) -> list[Ranked]:
    """The first ``limit`` of ``found`` by score, then sort key, both descending: heap-selected (or
    sorted) in C, Ranked made only for those kept."""
    entries = _entries(searcher, found)
    best = heapq.nlargest(limit, entries) if limit < len(entries) else sorted(entries, reverse=True)
    return _ranked(found, best)


def ordered_by_relevance(
    searcher: tantivy.Searcher, query: Query, wanted: int, recency_from: datetime | None
) -> tuple[list[Ranked], int]:
    """The best ``wanted`` matches in order (score, then sort date, then item id, all descending;
    with ``recency_from``, the best RESCORE_WINDOW by plain score reordered by the boosted score and
    put first) and the number of matches."""
    window = max(wanted, RESCORE_WINDOW) if recency_from is not None else wanted
    found, total = _fetch_best(searcher, query, window)
    if recency_from is None:
        return _by_score_and_key(searcher, found, wanted), total
    # Tuples all along, Ranked only for the page: the window holds 1,000 hits or more.
    entries = sorted(_entries(searcher, found), reverse=True)
    if entries:
        edge = entries[min(RESCORE_WINDOW, len(entries)) - 1][0]
        size = min(RESCORE_WINDOW, len(entries))
        while size < len(entries) and entries[size][0] >= edge:  # equal scores stay together
            size += 1
        head = _boosted(searcher, found, entries[:size], recency_from)
        head.sort(key=_score_and_key, reverse=True)
        entries = head + entries[size:]
    return _ranked(found, entries[:wanted]), total


def _boosted(
    searcher: tantivy.Searcher, found: list[Any], entries: list[Entry], now: datetime
) -> list[Entry]:
    """``entries`` with score × (1 + 0.5^(age_days / 90)); a future date counts as age 0."""
    now_us = micros(now)
    stamps = searcher.fast_field_values(F.sort_us, [found[-at][1] for _score, _key, at in entries])
    return [
        (
            score
            * (1.0 + 0.5 ** (max(0, now_us - int(stamp or 0)) / _MICROS_PER_DAY / RECENCY_HALF_LIFE_DAYS)),
            key,
            at,
        )
        for (score, key, at), stamp in zip(entries, stamps, strict=True)
    ]


T = TypeVar("T")


class Helpers:
    """A few threads that count a query's facets while the request's thread finds its page (tantivy
    lets go of the GIL: on two cores, about the slower of the two instead of their sum). When all are
    busy (many requests at once: the cores are taken anyway), the request counts its own."""

    def __init__(self, threads: int = 2) -> None:
        self._slots = threading.BoundedSemaphore(threads)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="embedded-facets")

    def submit(self, work: Callable[[], T]) -> Future[T] | None:
        """``work`` started on a free thread, or None when none is free."""
        if not self._slots.acquire(blocking=False):
            return None
        try:
            future = self._pool.submit(work)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _done: self._slots.release())
        return future

    def close(self) -> None:
        """Wait for the work in hand, then stop the threads."""
        self._pool.shutdown(wait=True)


@dataclass(slots=True)
class _Page:
    hits: list[Ranked]
    total: int
    cursor: str | None


class EmbeddedSearch:
    """One request on one searcher."""

    def __init__(
        self,
        searcher: tantivy.Searcher,
        schema: tantivy.Schema,
        names: UnitNames,
        snapshot: Hashable,
        helper: Helpers | None = None,
    ) -> None:
        self.searcher = searcher
        self.schema = schema
        self.names = names  # facet labels, cached per index state
        self.snapshot = snapshot
        # Counts the facets while this thread finds the page (tantivy lets go of the GIL).
        self.helper = helper

    def run(self, query: SearchQuery, parsed: ParsedQuery, now: datetime) -> SearchResult:
        """Answer ``query`` (``parsed`` is its text) as of ``now`` (recency boost)."""
        weight = char_weight(self.searcher)
        present = dict(self.searcher.terms_with_prefix(F.state, "")) if parsed.must else None
        full = search_query(self.schema, query, parsed, weight, present)
        pending = self.helper.submit(lambda: self.facets(full)) if query.facets and self.helper else None
        try:
            page = self._page(query, parsed, full, weight, now)
        except BaseException:
            if pending is not None:
                pending.cancel()
            raise
        documents = [read_payload(self.searcher.doc(hit.address)) for hit in page.hits]
        reposts = self.repost_counts(documents, query.states) if query.collapse_reposts else {}
        hits = [
            hit_of(payload, ranked.score, parsed, reposts.get(int(payload["item_id"]), 0))
            for payload, ranked in zip(documents, page.hits, strict=True)
        ]
        facets: dict[str, list[FacetCount]] = {}
        if pending is not None:
            facets = pending.result()
        elif query.facets:
            facets = self.facets(full)
        return SearchResult(total=page.total, hits=hits, facets=facets, next_cursor=page.cursor)

    def _page(
        self, query: SearchQuery, parsed: ParsedQuery, full: Query, weight: CharWeight, now: datetime
    ) -> _Page:
        flat = [group[0].char for group in parsed.must if len(group) == 1 and group[0].char]
        if parsed.must and len(flat) == len(parsed.must):
            # Only one-character terms, each required: every match has the same score (with the recency
            # boost, newer is better), so relevance order is date order, exactly and without fetching
            # the tie group.
            kind = DATE_CURSOR if query.sort == "date" else FLAT_RELEVANCE_CURSOR
            return self._date_page(query, full, kind, sum(weight(char) for char in flat if char))
        if parsed.must and query.sort != "date":
            return self._relevance_page(query, full, now)
        return self._date_page(query, full, DATE_CURSOR)

    def _relevance_page(self, query: SearchQuery, full: Query, now: datetime) -> _Page:
        offset = query.offset
        if query.cursor is not None:
            values = decode_cursor(query.cursor, RELEVANCE_CURSOR)
            if len(values) != 1 or not isinstance(values[0], int) or values[0] < 0:
                raise InvalidCursor("a relevance cursor carries one offset")
            offset = values[0]
        wanted = offset + max(query.limit, 0)
        ranked, total = ordered_by_relevance(
            self.searcher, full, wanted, now if query.recency_boost else None
        )
        hits = ranked[offset:wanted]
        following = offset + len(hits)
        cursor = encode_cursor(RELEVANCE_CURSOR, [following]) if hits and following < total else None
        return _Page(hits, total, cursor)

    def _keys(self, full: Query, *, below: int | None = None, from_: int | None = None) -> Query:
        """``full`` restricted to sort keys below ``below`` or from ``from_`` on."""
        bound = Query.range_query(
            self.schema,
            F.sort_key,
            tantivy.FieldType.Unsigned,
            lower_bound=from_,
            upper_bound=below,
            include_upper=below is None,  # tantivy: an unbounded side is inclusive
        )
        return Query.boolean_query([(Occur.Must, full), (Occur.Must, bound)])

    def _date_page(self, query: SearchQuery, full: Query, kind: str, score: float = 0.0) -> _Page:
        page_query, offset, newer = full, query.offset, 0
        if query.cursor is not None:
            values = decode_cursor(query.cursor, kind)
            if len(values) != 2 or not all(isinstance(value, int) for value in values):
                raise InvalidCursor("a date cursor carries (sort date, item id)")
            bound = sort_key(values[0], values[1])
            if query.limit <= 0:
                return _Page([], count(self.searcher, full), None)
            # The matches up to the cursor are counted (cheap: the key range leads); the page follows
            # them at that offset, or, deep down, below the cursor's key.
            newer = count(self.searcher, self._keys(full, from_=bound))
            if newer <= CURSOR_OFFSET_LIMIT:
                offset = newer
            else:
                page_query, offset = self._keys(full, below=bound), 0
        if query.limit <= 0:
            return _Page([], count(self.searcher, full), None)
        result = self.searcher.search(
            page_query, query.limit, count=True, order_by_field=F.sort_key, offset=offset, order=Order.Desc
        )
        hits = [Ranked(address, score, int(key)) for key, address in result.hits]
        found = matched(result)
        total = found if page_query is full else found + newer
        more = found > offset + len(hits)
        cursor = encode_cursor(kind, list(sort_key_parts(hits[-1].key))) if hits and more else None
        return _Page(hits, total, cursor)

    def repost_counts(
        self, documents: list[dict[str, Any]], states: tuple[str, ...] | None
    ) -> dict[int, int]:
        """item id -> number of distinct units with a document in ``states`` folded into it (one terms
        aggregation, the units of each bucket below it): a unit whose two sources carry the notice
        reposted it once."""
        ids = [int(payload["item_id"]) for payload in documents]
        if not ids:
            return {}
        required = [query for query in (states_filter(self.schema, states),) if query is not None]
        query = combine(any_term(self.schema, F.collapse_into, ids), required, [])
        size = len(ids)
        units = {"terms": {"field": F.unit_id, "size": UNIT_BUCKETS, "segment_size": UNIT_BUCKETS}}
        answer = self.searcher.aggregate(
            query,
            {
                "r": {
                    "terms": {"field": F.collapse_into, "size": size, "segment_size": size},
                    "aggs": {"u": units},
                }
            },
        )
        return {int(bucket["key"]): len(bucket["u"]["buckets"]) for bucket in answer["r"]["buckets"]}

    def facets(self, full: Query) -> dict[str, list[FacetCount]]:
        """Top FACET_SIZE buckets per facet over every match: larger counts first, ties by value.
        Every bucket is returned (as cheap as the top ones: each segment counts them all anyway), so a
        tie across the cut is decided here, by value, without a second aggregation."""
        answer = self.searcher.aggregate(
            full, {name: _terms(field, name) for name, field in _FACET_FIELDS.items()}
        )
        result: dict[str, list[FacetCount]] = {}
        for name in _FACET_FIELDS:
            top = _buckets(answer[name], name)[:FACET_SIZE]
            labels = (
                self.names.lookup(self.searcher, self.schema, self.snapshot, [key for key, _ in top])
                if name == "unit"
                else {}
            )
            result[name] = [FacetCount(str(key), labels.get(key, str(key)), n) for key, n in top]
        return result


def _terms(field: str, name: str) -> dict[str, Any]:
    """A terms aggregation counting and returning every value (up to the bucket bounds)."""
    every = UNIT_BUCKETS if name == "unit" else KEYWORD_BUCKETS
    return {"terms": {"field": field, "size": every, "segment_size": every}}


def _buckets(answer: dict[str, Any], name: str) -> list[tuple[Any, int]]:
    """(value, count) of a terms aggregation, larger counts first, then smaller values."""
    buckets: list[tuple[Any, int]] = [
        (int(bucket["key"]) if name == "unit" else str(bucket["key"]), int(bucket["doc_count"]))
        for bucket in answer["buckets"]
    ]
    buckets.sort(key=lambda bucket: (-bucket[1], bucket[0]))
    return buckets


class UnitNames:
    """Unit id -> the name in the unit's newest document, remembered until the index changes (a commit
    or a rebuild starts afresh): facet labels without an aggregation per request. Shared by threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Hashable = None
        self._names: dict[int, str] = {}

    def lookup(
        self, searcher: tantivy.Searcher, schema: tantivy.Schema, snapshot: Hashable, unit_ids: list[int]
    ) -> dict[int, str]:
        """Names of ``unit_ids`` in ``searcher``, which shows the index state called ``snapshot``."""
        with self._lock:
            if snapshot != self._snapshot:
                self._snapshot, self._names = snapshot, {}
            known = {unit_id: self._names[unit_id] for unit_id in unit_ids if unit_id in self._names}
        missing = [unit_id for unit_id in unit_ids if unit_id not in known]
        if missing:
            found = newest_unit_names(searcher, schema, missing)
            known.update(found)
            with self._lock:
                if snapshot == self._snapshot:
                    self._names.update(found)
        return known


def newest_unit_names(
    searcher: tantivy.Searcher, schema: tantivy.Schema, unit_ids: list[int]
) -> dict[int, str]:
    """The name each unit has in its newest document (names may change; documents follow)."""
    newest = {"top_hits": {"size": 1, "sort": [{F.sort_key: "desc"}], "docvalue_fields": [F.unit_name]}}
    size = len(unit_ids)
    answer = searcher.aggregate(
        any_term(schema, F.unit_id, unit_ids),
        {"u": {"terms": {"field": F.unit_id, "size": size, "segment_size": size}, "aggs": {"n": newest}}},
    )
    names: dict[int, str] = {}
    for bucket in answer["u"]["buckets"]:
        hits = bucket["n"]["hits"]
        if hits and hits[0]["docvalue_fields"].get(F.unit_name):
            names[int(bucket["key"])] = str(hits[0]["docvalue_fields"][F.unit_name][0])
    return names


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def hit_of(payload: dict[str, Any], score: float, parsed: ParsedQuery, repost_count: int) -> SearchHit:
    """A result line from a stored payload."""
    return SearchHit(
        item_id=int(payload["item_id"]),
        score=score,
        title=payload["title"],
        snippet=page_snippet(payload["text"] or payload["summary"], parsed),
        title_marked=mark_matches(payload["title"], parsed),
        url=payload["url"],
        unit_id=int(payload["unit_id"]),
        unit_name=payload["unit_name"],
        published_at=_date(payload["published_at"]),
        unit_slug=payload["unit_slug"],
        source_name=payload["source_name"],
        category=payload["category"],
        state=payload["state"],
        has_attachments=bool(payload["has_attachments"]),
        sort_date=_date(payload["sort_date"]),
        repost_count=repost_count,
    )
