"""Removed at source: items whose page is gone stay in the archive, marked (docs/architecture.md step 5).

Two signals: a known article's page answers 404/410 on re-fetch (``mark_gone``), or an item stays
missing from its source's listing (list pages, sitemap, feed) for N crawls in a row
(``record_listing``; a listing that did not change since, a 304 or the same bytes, misses it again:
``record_unchanged_listings``). Only items the listing should have shown count as missing: those at least as
recent as the oldest known item it did show, since older ones simply scrolled past the pages crawled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.orm import Session

from hub.canonical import canonical_url
from hub.models import Item
from hub.timeutil import utcnow

GONE_STATUSES = frozenset({404, 410})
ID_CHUNK = 4000  # values per IN (...): under the bind-parameter limits of SQLite and PostgreSQL
# Sources per OR of (source, date span) terms: SQLite parses OR chains into a tree at most 1,000 deep.
SOURCE_CHUNK = 200
_T = TypeVar("_T")


def mark_gone(session: Session, source_id: int, urls: Iterable[str], now: datetime | None = None) -> int:
    """Mark the source's items at ``urls`` removed at source; returns how many were newly marked."""
    canonical = {canonical_url(url) for url in urls}
    if not canonical:
        return 0
    now = now or utcnow()
    items = session.scalars(
        select(Item).where(
            Item.source_id == source_id,
            Item.canonical_url.in_(canonical),
            Item.removed_at_source_at.is_(None),
        )
    ).all()
    for item in items:
        item.removed_at_source_at = now
    session.flush()
    return len(items)


def record_listing(
    session: Session,
    source_id: int,
    listed_urls: Iterable[str],
    missing_limit: int,
    now: datetime | None = None,
) -> int:
    """Count one complete listing of the source; returns how many items it newly marks removed.

    Listed items have their missing count reset; items in the listing's time span but not in it
    count one more miss, and at ``missing_limit`` misses (0: never) they are marked removed.
    """
    return record_listings(session, {source_id: listed_urls}, missing_limit, now)[source_id]


def record_listings(
    session: Session,
    listings: Mapping[int, Iterable[str]],
    missing_limit: int,
    now: datetime | None = None,
) -> dict[int, int]:
    """``record_listing`` of several sources (source id -> listed URLs) in a few statements for all of
    them (a crawl writes its outcomes in batches); returns how many items each newly marks removed."""
    removed = dict.fromkeys(listings, 0)
    listed = {source_id: {canonical_url(url) for url in urls} for source_id, urls in listings.items()}
    listed = {source_id: urls for source_id, urls in listed.items() if urls}
    if not listed:
        return removed
    now = now or utcnow()
    # Columns only, not ORM items: loading every listed item's body cost more than the rest of the
    # source's outcome (bench/ingest.py profile). The updates go through the ORM statements, which keep
    # items already in the session in step.
    shown: dict[int, list[Row[int, int, str, int, datetime | None, datetime]]] = defaultdict(list)
    urls = sorted(set().union(*listed.values()))
    for chunk in _chunks(urls):
        query = select(
            Item.id,
            Item.source_id,
            Item.canonical_url,
            Item.missing_count,
            Item.published_at,
            Item.first_seen_at,
        ).where(Item.canonical_url.in_(chunk), Item.source_id.in_(listed))
        for row in session.execute(query):
            if row.canonical_url in listed[row.source_id]:
                shown[row.source_id].append(row)
    if not shown:
        return removed  # nothing known was listed: no basis to call anything missing
    _set_where(session, [row.id for rows in shown.values() for row in rows if row.missing_count != 0], 0)
    # Per source, the items at least as recent as the oldest it listed.
    oldest = {
        source_id: min(row.published_at or row.first_seen_at for row in rows)
        for source_id, rows in shown.items()
    }
    when = func.coalesce(Item.published_at, Item.first_seen_at)
    by_count: dict[int, list[tuple[int, int]]] = defaultdict(list)  # new missing count -> (id, source)
    for group in _chunks(sorted(oldest), SOURCE_CHUNK):
        span = or_(*(and_(Item.source_id == source_id, when >= oldest[source_id]) for source_id in group))
        unlisted = select(Item.id, Item.source_id, Item.canonical_url, Item.missing_count).where(
            span, Item.removed_at_source_at.is_(None)
        )
        for item_id, source_id, url, missing_count in session.execute(unlisted):
            if url not in listed[source_id]:
                by_count[(missing_count or 0) + 1].append((item_id, source_id))
    _count_misses(session, by_count, missing_limit, now, removed)
    return removed


def record_unchanged_listings(
    session: Session, source_ids: Iterable[int], missing_limit: int, now: datetime | None = None
) -> dict[int, int]:
    """Count a listing that did not change (a 304, or the same bytes) as one more crawl without the
    items the last parsed listing missed; returns how many each source newly marks removed.

    The listing is the one that missed them, so they are still missing: otherwise an item deleted on a
    site that publishes nothing afterwards would keep its first miss for ever, since its unchanged
    list page is never parsed again.
    """
    removed = dict.fromkeys(source_ids, 0)
    if not removed:
        return removed
    now = now or utcnow()
    by_count: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for chunk in _chunks(sorted(removed)):
        missed = select(Item.id, Item.source_id, Item.missing_count).where(
            Item.source_id.in_(chunk), Item.missing_count > 0, Item.removed_at_source_at.is_(None)
        )
        for item_id, source_id, missing_count in session.execute(missed):
            by_count[missing_count + 1].append((item_id, source_id))
    _count_misses(session, by_count, missing_limit, now, removed)
    return removed


def _count_misses(
    session: Session,
    by_count: Mapping[int, list[tuple[int, int]]],
    missing_limit: int,
    now: datetime,
    removed: dict[int, int],
) -> None:
    """Set the new missing counts (new count -> (item id, source id)), marking removed the items that
    reach ``missing_limit`` (0: never) and counting them per source in ``removed``. One UPDATE per count
    (a few), not one per item."""
    for count, rows in by_count.items():
        gone = bool(missing_limit) and count >= missing_limit
        _set_where(session, [item_id for item_id, _ in rows], count, now if gone else None)
        if gone:
            for _, source_id in rows:
                removed[source_id] += 1


def _chunks(values: Sequence[_T], size: int = ID_CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _set_where(
    session: Session, ids: list[int], missing_count: int, removed_at: datetime | None = None
) -> None:
    """Set the missing count of items ``ids`` (and mark them removed at ``removed_at``, if given)."""
    values: dict[str, object] = {"missing_count": missing_count}
    if removed_at is not None:
        values["removed_at_source_at"] = removed_at
    for chunk in _chunks(ids):
        session.execute(update(Item).where(Item.id.in_(chunk)).values(**values))
