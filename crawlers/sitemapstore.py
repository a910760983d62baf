"""What sitemap sources remember between crawls: each listed URL and the ``lastmod`` it was fetched at."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import SitemapEntry
from hub.timeutil import utcnow


def known_lastmods(session: Session, source_ids: Iterable[int]) -> dict[int, dict[str, str | None]]:
    """Per source: URL → lastmod of every page fetched from its sitemaps before."""
    result: dict[int, dict[str, str | None]] = {}
    ids = list(source_ids)
    if not ids:
        return result
    rows = session.execute(
        select(SitemapEntry.source_id, SitemapEntry.url, SitemapEntry.lastmod).where(
            SitemapEntry.source_id.in_(ids)
        )
    )
    for source_id, url, lastmod in rows:
        result.setdefault(source_id, {})[url] = lastmod
    return result


def remember(session: Session, source_id: int, url: str, lastmod: str | None) -> None:
    """Record that ``url`` of the source was fetched while its sitemap said ``lastmod``."""
    entry = session.scalars(
        select(SitemapEntry).where(SitemapEntry.source_id == source_id, SitemapEntry.url == url)
    ).first()
    if entry is None:
        session.add(SitemapEntry(source_id=source_id, url=url[:1000], lastmod=lastmod, fetched_at=utcnow()))
    else:
        entry.lastmod = lastmod
        entry.fetched_at = utcnow()
