"""Screening stored: hub.ingest calls ``screen_item`` for every new item and new revision.

docs/architecture.md step 6. The hits of a revision replace any earlier hits of that revision (a
re-screen after a lexicon change), and ``Item.risk_score`` orders the moderation queue.

The screener comes from the session: a process that configured one hands it to its session factory
with ``use_screener``; otherwise the default lexicon folder and options are used, built once per
session.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from hub.models import Item, ItemRevision, ScreeningHit, SourceKind
from hub.settings import ModerationSettings
from moderation.checks import html_links
from moderation.screen import Screener, ScreeningResult, screen

SCREENER_KEY = "xinlian.screener"


def use_screener(sessions: sessionmaker[Session], screener: Screener) -> None:
    """Make every session of ``sessions`` screen with ``screener`` (configured lexicons and options)."""
    sessions.configure(info={SCREENER_KEY: screener})


def screener_for(session: Session) -> Screener:
    """The session's screener; the defaults (config/lexicons) when none was configured."""
    screener = session.info.get(SCREENER_KEY)
    if not isinstance(screener, Screener):
        screener = Screener.from_settings(ModerationSettings())
        session.info[SCREENER_KEY] = screener
    return screener


def _host(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None


def _duplicate_of(session: Session, item_id: int, content_hash: str) -> int | None:
    """The oldest other item with exactly this content."""
    query = select(Item.id).where(Item.content_hash == content_hash, Item.id != item_id)
    return session.scalars(query.order_by(Item.id).limit(1)).first()


def screen_item(
    session: Session, item: Item, revision_number: int, screener: Screener | None = None
) -> ScreeningResult:
    """Screen revision ``revision_number`` of ``item``, store its hits and the item's risk score.

    Runs in the caller's transaction (the caller commits).
    """
    screener = screener or screener_for(session)
    revision = session.scalars(
        select(ItemRevision).where(ItemRevision.item_id == item.id, ItemRevision.number == revision_number)
    ).one()
    attachments = [entry for entry in item.attachments or [] if isinstance(entry, dict)]
    links = html_links(revision.html) + [str(entry.get("url") or "") for entry in attachments]
    source, unit = item.source, item.unit
    own_hosts = {host for host in (_host(unit.website), _host(source.url), _host(item.url)) if host}
    result = screen(
        revision.text,
        revision.title,
        links,
        matcher=screener.matcher(),
        options=screener.options,
        attachment_names=[str(entry.get("name") or "") for entry in attachments],
        own_hosts=own_hosts,
        trust_factor=screener.options.trust_factor(unit.level, source.kind == SourceKind.ACCOUNT.value),
        duplicate_of=_duplicate_of(session, item.id, revision.content_hash),
    )
    session.execute(
        delete(ScreeningHit).where(
            ScreeningHit.item_id == item.id, ScreeningHit.revision_number == revision_number
        )
    )
    session.add_all(
        ScreeningHit(
            item_id=item.id,
            revision_number=revision_number,
            field=hit.field,
            start=hit.start,
            end=hit.end,
            term=hit.term,
            category=hit.category,
            severity=hit.severity,
            lexicon_version=hit.lexicon_version,
        )
        for hit in result.hits
    )
    item.risk_score = result.risk_score
    session.flush()
    return result
