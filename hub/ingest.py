"""Ingest: a crawled RawItem becomes a stored Item, deduped and revisioned (docs/architecture.md step 5).

Nothing ingested is ever published unreviewed: a new item waits as ``pending``; a change to an
approved item is stored as a revision awaiting review while the approved content stays live. The
one exception is explicit: a source under an auto-approve policy (moderation/policy.py) publishes a
new item or revision that screening found clean, recorded as approved by that policy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.canonical import canonical_url, guid_policy, identity_guid
from hub.models import Item, ItemRevision, ItemState, ModerationEvent, OutboxEntry, OutboxOp, Source
from hub.nfkc import nfkc
from hub.rawitem import RawItem
from hub.reposts import RepostPolicy, link_repost, relink_repost
from hub.sanitize import Sanitizer, html_to_text
from hub.timeutil import utcnow
from hub.xmlchars import storable
from moderation.autoapprove import auto_approve
from moderation.screening import screen_item

IngestStatus = Literal["new", "updated", "unchanged"]
CRAWLER_ACTOR = "crawler"
# A unique-constraint race with another process is retried as an update this many times.
MAX_ATTEMPTS = 3
TITLE_MAX = 500


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What ingest did with one RawItem."""

    status: IngestStatus
    item_id: int


@dataclass(frozen=True, slots=True)
class _Content:
    """The normalized content of a RawItem, ready to store."""

    canonical_url: str
    title: str
    html: str
    text: str
    content_hash: str


def content_hash(title: str, text: str) -> str:
    """SHA-256 over the NFKC title and text: insensitive to whitespace and full/half-width forms."""
    # Whitespace is dropped, not collapsed: re-rendered Chinese pages shift spaces and line breaks freely.
    # str.split() splits on exactly what the regex \s matches (str.isspace), ~3x faster than re.sub.
    normalized = ["".join(nfkc(part).split()) for part in (title, text)]
    return hashlib.sha256("\n".join(normalized).encode("utf-8")).hexdigest()


def _prepare(raw: RawItem, sanitizer: Sanitizer | None = None) -> _Content:
    title = " ".join((raw.title or "").split())  # whitespace runs collapsed, ends stripped
    if not title:
        raise ValueError(f"RawItem from source {raw.source_id} has no title: {raw.url!r}")
    if not (raw.html or "").strip() and not (raw.text or "").strip():
        raise ValueError(f"RawItem from source {raw.source_id} has no body: {raw.url!r}")
    parts = urlsplit(raw.url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"RawItem from source {raw.source_id} has no absolute http(s) URL: {raw.url!r}")
    if raw.published_at is not None and raw.published_at.tzinfo is None:
        raise ValueError(f"RawItem {raw.url!r}: published_at must be timezone-aware")
    html = (sanitizer or Sanitizer()).clean(raw.html or "", raw.url)
    text = (raw.text or "").strip() or html_to_text(html)
    return _Content(canonical_url(raw.url), title[:TITLE_MAX], html, text, content_hash(title, text))


def _find(session: Session, source_id: int, canonical: str, guid: str | None) -> Item | None:
    item = session.scalars(select(Item).where(Item.canonical_url == canonical)).first()
    if item is None and guid:
        item = session.scalars(
            select(Item).where(Item.source_id == source_id, Item.guid == guid).order_by(Item.id)
        ).first()
    return item


def _repost_of(session: Session, source_id: int, digest: str) -> int | None:
    """The earliest item of another source with the same content, if any."""
    return session.scalars(
        select(Item.id)
        .where(Item.content_hash == digest, Item.source_id != source_id)
        .order_by(Item.id)
        .limit(1)
    ).first()


def item_values(source: Source, raw: RawItem, content: _Content, now: datetime) -> dict[str, Any]:
    """Column values of a new item (shared by the single and the batch path; no id, no repost link)."""
    return {
        "source_id": source.id,
        "unit_id": source.unit_id,
        "url": raw.url,
        "canonical_url": content.canonical_url,
        "guid": raw.guid,
        "title": content.title,
        "html": content.html,
        "text": content.text,
        "summary": raw.summary,
        "author": raw.author,
        "origin": raw.origin,
        "category": raw.category or source.category,
        "attachments": [{"name": a.name, "url": a.url} for a in raw.attachments],
        "images": list(raw.images),
        "published_at": raw.published_at,
        "date_source": raw.date_source,
        "date_flag": raw.date_flag,
        "videos": list(raw.videos),
        "first_seen_at": now,
        "updated_at": now,
        "content_hash": content.content_hash,
        "state": ItemState.PENDING.value,
        "version": 1,
        "revision_count": 1,
    }


def queue_index(session: Session, item_id: int, now: datetime) -> None:
    """Queue ``item_id`` for the index (index/outbox.py) in this transaction: staff search every item,
    pending ones included, so a new item or revision is indexed at once (the public sees only approved
    ones)."""
    session.add(OutboxEntry(item_id=item_id, op=OutboxOp.UPSERT.value, created_at=now))


def _create(session: Session, source: Source, raw: RawItem, content: _Content, now: datetime) -> Item:
    item = Item(
        **item_values(source, raw, content, now),
        repost_of_id=_repost_of(session, source.id, content.content_hash),
    )
    session.add(item)
    session.flush()
    session.add(_revision(item.id, 1, content, raw, now))
    session.add(
        ModerationEvent(
            item_id=item.id,
            revision_number=1,
            actor=CRAWLER_ACTOR,
            action="submitted",
            from_state=None,
            to_state=ItemState.PENDING.value,
            created_at=now,
        )
    )
    session.flush()
    screen_item(session, item, 1)  # screening (docs/architecture.md step 6): hits and risk score
    return item


def _revision(item_id: int, number: int, content: _Content, raw: RawItem, now: datetime) -> ItemRevision:
    return ItemRevision(
        item_id=item_id,
        number=number,
        title=content.title,
        html=content.html,
        text=content.text,
        content_hash=content.content_hash,
        published_at=raw.published_at,
        created_at=now,
    )


def _is_unchanged(session: Session, item: Item, digest: str) -> bool:
    """Whether ``digest`` is content already seen for ``item``.

    With an edit awaiting review, that edit is the newest content. Otherwise the live content, or the
    newest revision: an edit a reviewer declined (moderation.service DECLINE_REVISION) is not new when
    the source still shows it, so it does not come back to the queue at every crawl.
    """
    if item.pending_revision is None and digest == item.content_hash:
        return True
    number = item.pending_revision or item.revision_count
    newest = session.scalars(
        select(ItemRevision.content_hash).where(
            ItemRevision.item_id == item.id, ItemRevision.number == number
        )
    ).first()
    return digest == (newest or item.content_hash)


def _update(
    session: Session,
    item: Item,
    raw: RawItem,
    content: _Content,
    now: datetime,
    reposts: RepostPolicy | None = None,
) -> IngestStatus:
    if _is_unchanged(session, item, content.content_hash):
        return "unchanged"
    number = item.revision_count + 1
    session.add(_revision(item.id, number, content, raw, now))
    item.revision_count = number
    item.updated_at = now
    # A reviewer's decision names the version they saw: a source edit makes that decision stale.
    item.version = (item.version or 1) + 1
    before = item.state
    if item.state == ItemState.APPROVED.value:
        # The approved content stays live; the change waits for a reviewer.
        item.pending_revision = number
    else:
        item.title, item.html, item.text = content.title, content.html, content.text
        item.content_hash = content.content_hash
        item.published_at = raw.published_at or item.published_at
        item.summary = raw.summary
        item.attachments = [{"name": a.name, "url": a.url} for a in raw.attachments]
        item.images = list(raw.images)
        if item.state == ItemState.NEEDS_CHANGES.value:
            item.state = ItemState.PENDING.value  # the source changed it: back to the queue
    session.add(
        ModerationEvent(
            item_id=item.id,
            revision_number=number,
            actor=CRAWLER_ACTOR,
            action="revised",
            from_state=before,
            to_state=item.state,
            created_at=now,
        )
    )
    session.flush()
    screen_item(session, item, number)  # screening of the new revision (docs/architecture.md step 6)
    if not auto_approve(session, item, number, before, now):  # a clean revision under a policy goes live
        queue_index(session, item.id, now)  # (an approval queues it itself)
    if before != ItemState.APPROVED.value:
        # New live text: fingerprint refreshed, repost link decided again. An approved item's edit goes
        # live only through moderation.service.transition, which relinks it then.
        relink_repost(session, item, reposts)
    return "updated"


def ingest(
    session: Session, raw: RawItem, now: datetime | None = None, reposts: RepostPolicy | None = None
) -> IngestOutcome:
    """Store ``raw`` as a new item, a new revision of a known item, or nothing if unchanged.

    Runs in the caller's transaction (the caller commits). Raises ValueError on unusable input.
    """
    now = now or utcnow()
    raw = storable(raw)  # no NUL or other control character reaches the store (hub/xmlchars.py)
    content = _prepare(raw)
    source = session.get(Source, raw.source_id)
    if source is None:
        raise ValueError(f"RawItem names unknown source {raw.source_id}: {raw.url!r}")
    for _attempt in range(MAX_ATTEMPTS):
        guid = identity_guid(raw.guid, raw.url, source.url, guid_policy(source.selectors))
        item = _find(session, source.id, content.canonical_url, guid)
        if item is not None:
            if item.removed_at_source_at is not None:  # the page answers again: no longer removed
                item.removed_at_source_at, item.missing_count = None, 0
            return IngestOutcome(_update(session, item, raw, content, now, reposts), item.id)
        try:
            with session.begin_nested():
                created = _create(session, source, raw, content, now)
        except IntegrityError:
            # Another process stored the same canonical URL since we looked: take it as an update.
            continue
        source.last_new_item_at = now
        link_repost(session, created, reposts)  # near-duplicates across units → earliest original
        if not auto_approve(session, created, 1, None, now):  # a clean item under a policy goes live
            queue_index(session, created.id, now)  # (an approval queues it itself)
        return IngestOutcome("new", created.id)
    raise RuntimeError(f"could not store {content.canonical_url} after {MAX_ATTEMPTS} attempts")
