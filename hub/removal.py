"""Removed at source: items whose page is gone stay in the archive, marked (docs/architecture.md step 5).

Two signals: a known article's page answers 404/410 on re-fetch (``mark_gone``), or an item stays
missing from its source's listing (list pages, sitemap, feed) for N crawls in a row
(``record_listing``). Only items the listing should have shown count as missing: those at least as
recent as the oldest known item it did show, since older ones simply scrolled past the pages crawled.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.canonical import canonical_url
from hub.models import Item
from hub.timeutil import utcnow

GONE_STATUSES = frozenset({404, 410})


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
    shown = session.scalars(
        select(Item).where(Item.source_id == source_id, Item.canonical_url.in_(listed))
    ).all()
    if not shown:
        return 0  # nothing known was listed: no basis to call anything missing
    for item in shown:
        item.missing_count = 0
    oldest = min(item.published_at or item.first_seen_at for item in shown)
    when = func.coalesce(Item.published_at, Item.first_seen_at)
    unlisted = session.scalars(
        select(Item).where(
            Item.source_id == source_id,
            Item.canonical_url.not_in(listed),
            Item.removed_at_source_at.is_(None),
            when >= oldest,
        )
    ).all()
    removed = 0
    for item in unlisted:
        item.missing_count = (item.missing_count or 0) + 1
        if missing_limit and item.missing_count >= missing_limit:
            item.removed_at_source_at = now
            removed += 1
    session.flush()
    return removed
