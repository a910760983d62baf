"""Removed at source: items whose page is gone stay in the archive, marked (docs/architecture.md step 5).

Two signals: a known article's page answers 404/410 on re-fetch (``mark_gone``), or an item stays
missing from its source's listing (list pages, sitemap, feed) for N crawls in a row
(``record_listing``). Only items the listing should have shown count as missing: those at least as
recent as the oldest known item it did show, since older ones simply scrolled past the pages crawled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.canonical import canonical_url
from hub.models import Item
from hub.timeutil import utcnow

GONE_STATUSES = frozenset({404, 410})
ID_CHUNK = 4000  # ids per IN (...): under the bind-parameter limits of SQLite and PostgreSQL


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
    listed = {canonical_url(url) for url in listed_urls}
    if not listed:
        return 0
    now = now or utcnow()
    # Columns only, not ORM items: loading every listed item's body cost more than the rest of the
    # source's outcome (bench/ingest.py profile). The updates go through the ORM statements, which keep
    # items already in the session in step.
    shown = session.execute(
        select(Item.id, Item.missing_count, Item.published_at, Item.first_seen_at).where(
            Item.source_id == source_id, Item.canonical_url.in_(listed)
        )
    ).all()
    if not shown:
        return 0  # nothing known was listed: no basis to call anything missing
    _set_where(session, [row.id for row in shown if row.missing_count != 0], missing_count=0)
    oldest = min(row.published_at or row.first_seen_at for row in shown)
    when = func.coalesce(Item.published_at, Item.first_seen_at)
    unlisted = session.execute(
        select(Item.id, Item.missing_count).where(
            Item.source_id == source_id,
            Item.canonical_url.not_in(listed),
            Item.removed_at_source_at.is_(None),
            when >= oldest,
        )
    ).all()
    by_count: dict[int, list[int]] = defaultdict(list)
    for row in unlisted:
        by_count[(row.missing_count or 0) + 1].append(row.id)
    removed = 0
    for count, ids in by_count.items():  # one UPDATE per count (a few): not one per item
        if missing_limit and count >= missing_limit:
            _set_where(session, ids, missing_count=count, removed_at_source_at=now)
            removed += len(ids)
        else:
            _set_where(session, ids, missing_count=count)
    return removed


def _set_where(session: Session, ids: list[int], **values: object) -> None:
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        session.execute(update(Item).where(Item.id.in_(chunk)).values(**values))
