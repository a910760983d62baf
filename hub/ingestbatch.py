"""Batch ingest: many RawItems in one transaction with a few bulk statements (docs/architecture.md step 5).

Same results as calling ``hub.ingest.ingest`` for each item in order: dedupe by canonical URL and
guid (under the source's GUID policy, hub/canonical.py), unchanged items untouched, changes stored as
revisions (awaiting review on approved items), reposts linked to the earliest original, one
"submitted" event per new item, clean items approved where an auto-approve policy is on
(moderation/autoapprove.py, the same rows as the single path's transition), one index outbox row per
new or changed item. What differs is the
cost: one SELECT of the known URLs and guids per batch and executemany inserts instead of an ORM
flush per row. Rare cases take the single path's code: changed items, raws that repeat a URL, guid or content
of an earlier raw of the same batch (applied after the others, in batch order: independent raws
commute), and a unique-key race with another process (the whole batch is redone item by item).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.canonical import guid_policy, identity_guid, own_urls
from hub.fingerprint import sketches
from hub.ingest import CRAWLER_ACTOR, IngestOutcome, _Content, _prepare, _update, ingest, item_values
from hub.models import (
    Item,
    ItemRevision,
    ItemState,
    ModerationEvent,
    OutboxEntry,
    OutboxOp,
    Source,
    Unit,
    core_table,
)
from hub.rawitem import RawItem
from hub.reposts import link_reposts_by_id
from hub.sanitize import Sanitizer
from hub.timeutil import utcnow
from hub.xmlchars import storable
from moderation.autoapprove import FirstScreening, auto_approve_new
from moderation.screen import ScreeningResult
from moderation.screening import (
    RevisionData,
    prescreen,
    revision_of_new_item,
    screen_revisions,
    screener_for,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Known:
    """The columns of a stored item that dedupe needs (no ORM object, no body)."""

    id: int
    content_hash: str
    pending_revision: int | None


@dataclass(slots=True)
class _Work:
    """One usable raw of the batch and where it stands in the batch's result list."""

    index: int
    raw: RawItem
    content: _Content
    source: Source
    guid: str | None  # the guid to dedupe by under the source's GUID policy (hub/canonical.py)
    # Screening and repost sketch of the raw as a new item, computed before the write lock (item id 0
    # in the revision until inserted).
    screened: tuple[RevisionData, ScreeningResult] | None = None
    sketch: tuple[npt.NDArray[np.uint64], bool] | None = None


def _keys(work: _Work) -> list[Hashable]:
    """What makes two raws of a batch depend on each other: URL, guid, and content (reposts, screening)."""
    keys: list[Hashable] = [("url", work.content.canonical_url), ("hash", work.content.content_hash)]
    if work.guid:
        keys.append(("guid", work.source.id, work.guid))
    return keys


def _usable(session: Session, raws: Sequence[RawItem]) -> list[_Work | None]:
    """Prepared content per raw, or None for input the single path would refuse with ValueError."""
    ids = {raw.source_id for raw in raws}
    sources = {s.id: s for s in session.scalars(select(Source).where(Source.id.in_(ids)))}
    own = {s.id: own_urls(s.url) for s in sources.values()}  # once per source, not per item
    sanitizer = Sanitizer()  # one nh3 cleaner for the batch
    works: list[_Work | None] = []
    for index, given in enumerate(raws):
        raw = storable(given)  # no NUL or other control character reaches the store (hub/xmlchars.py)
        source = sources.get(raw.source_id)
        try:
            if source is None:
                raise ValueError(f"RawItem names unknown source {raw.source_id}: {raw.url!r}")
            content = _prepare(raw, sanitizer)
            policy = guid_policy(source.selectors)
            guid = identity_guid(
                raw.guid, raw.url, source.url, policy, own=own[source.id], canonical=content.canonical_url
            )
            works.append(_Work(index, raw, content, source, guid))
        except ValueError as exc:  # no title, no body, bad URL: the item is refused, the batch goes on
            logger.warning("item not ingested: %s", exc)
            works.append(None)
    return works


def _known(session: Session, works: list[_Work]) -> tuple[dict[str, _Known], dict[tuple[int, str], _Known]]:
    """Stored items matching the batch: by canonical URL, and by (source, guid) for the rest."""
    columns = (Item.id, Item.content_hash, Item.pending_revision)
    urls = {w.content.canonical_url for w in works}
    by_url = {
        row.canonical_url: _Known(row.id, row.content_hash, row.pending_revision)
        for row in session.execute(select(Item.canonical_url, *columns).where(Item.canonical_url.in_(urls)))
    }
    guids = {w.guid for w in works if w.guid and w.content.canonical_url not in by_url}
    by_guid: dict[tuple[int, str], _Known] = {}
    if guids:
        source_ids = {w.source.id for w in works}
        rows = session.execute(
            select(Item.source_id, Item.guid, *columns)
            .where(Item.source_id.in_(source_ids), Item.guid.in_(guids))
            .order_by(Item.id)
        )
        for row in rows:  # id order: the earliest item of a guid wins, as in the single path
            by_guid.setdefault(
                (row.source_id, row.guid), _Known(row.id, row.content_hash, row.pending_revision)
            )
    return by_url, by_guid


def _latest_hashes(session: Session, known: list[_Known]) -> dict[int, str]:
    """Hash of the newest content per item: the revision awaiting review if any, else the live one."""
    latest = {k.id: k.content_hash for k in known}
    waiting = {k.id: k.pending_revision for k in known if k.pending_revision is not None}
    if waiting:
        rows = session.execute(
            select(ItemRevision.item_id, ItemRevision.number, ItemRevision.content_hash).where(
                ItemRevision.item_id.in_(waiting)
            )
        )
        for item_id, number, digest in rows:
            if waiting[item_id] == number:
                latest[item_id] = digest
    return latest


def _originals(session: Session, new: list[_Work]) -> dict[str, list[tuple[int, int]]]:
    """(id, source_id) of stored items per content hash of the new items, in id order."""
    hashes = {w.content.content_hash for w in new}
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    rows = session.execute(
        select(Item.content_hash, Item.id, Item.source_id)
        .where(Item.content_hash.in_(hashes))
        .order_by(Item.id)
    )
    for digest, item_id, source_id in rows:
        found[digest].append((item_id, source_id))
    return found


def _insert_new(session: Session, new: list[_Work], now: datetime) -> list[int]:
    """Insert the new items, their first revisions and "submitted" events; returns their ids."""
    originals = _originals(session, new)
    rows: list[dict[str, Any]] = []
    for work in new:
        values = item_values(work.source, work.raw, work.content, now)
        stored = originals[work.content.content_hash]
        values["repost_of_id"] = next((i for i, s in stored if s != work.source.id), None)
        rows.append(values)
    # Matched back by canonical URL (unique, and unique within a batch: _split defers repeats) rather
    # than with sort_by_parameter_order, which makes SQLite run one INSERT per row.
    statement = insert(core_table(Item)).returning(Item.id, Item.canonical_url)
    id_of = {url: item_id for item_id, url in session.connection().execute(statement, rows)}
    ids = [id_of[work.content.canonical_url] for work in new]
    session.connection().execute(
        insert(core_table(ItemRevision)),
        [
            {
                "item_id": item_id,
                "number": 1,
                "title": w.content.title,
                "html": w.content.html,
                "text": w.content.text,
                "content_hash": w.content.content_hash,
                "published_at": w.raw.published_at,
                "created_at": now,
            }
            for w, item_id in zip(new, ids, strict=True)
        ],
    )
    session.connection().execute(
        insert(core_table(ModerationEvent)),
        [
            {
                "item_id": item_id,
                "revision_number": 1,
                "actor": CRAWLER_ACTOR,
                "action": "submitted",
                "from_state": None,
                "to_state": ItemState.PENDING.value,
                "reason": None,
                "created_at": now,
            }
            for item_id in ids
        ],
    )
    session.connection().execute(
        update(core_table(Source))
        .where(core_table(Source).c.id.in_({w.source.id for w in new}))
        .values(last_new_item_at=now)
    )
    return ids


def _queue_index(session: Session, item_ids: list[int], now: datetime) -> None:
    """Outbox rows for the index (one executemany): the batch twin of ``hub.ingest.queue_index``."""
    if item_ids:
        session.connection().execute(
            insert(core_table(OutboxEntry)),
            [{"item_id": i, "op": OutboxOp.UPSERT.value, "created_at": now, "attempts": 0} for i in item_ids],
        )


def _restore_seen(session: Session, item_ids: list[int]) -> None:
    """Items marked removed at source whose page answered again are no longer removed (one UPDATE)."""
    if not item_ids:
        return
    items = core_table(Item)
    session.connection().execute(
        update(items)
        .where(items.c.id.in_(item_ids), items.c.removed_at_source_at.is_not(None))
        .values(removed_at_source_at=None, missing_count=0)
    )


def _split(works: list[_Work]) -> tuple[list[_Work], list[_Work]]:
    """Raws independent of every earlier raw of the batch, and the rest (left to the single path)."""
    claimed: set[Hashable] = set()
    independent: list[_Work] = []
    deferred: list[_Work] = []
    for work in works:
        keys = _keys(work)
        (deferred if any(key in claimed for key in keys) else independent).append(work)
        claimed.update(keys)
    return independent, deferred


def _prescreen(session: Session, works: list[_Work], only_unknown: bool) -> None:
    """Screen and sketch raws as new items (all of screening but the duplicate check: a pure function
    of the raw and the lexicon; the repost sketch of the text).

    Called before the transaction for the raws whose URL is not stored yet (``only_unknown``): the
    crawl processes do this in parallel, and only lookups and inserts wait for SQLite's write lock.
    """
    if only_unknown:
        urls = {w.content.canonical_url for w in works}
        stored = set(session.scalars(select(Item.canonical_url).where(Item.canonical_url.in_(urls))))
        works = [w for w in works if w.content.canonical_url not in stored]
    if not works:
        return
    unit_ids = {w.source.unit_id for w in works}
    units = {
        row.id: row
        for row in session.execute(select(Unit.id, Unit.website, Unit.level).where(Unit.id.in_(unit_ids)))
    }
    screener = screener_for(session)
    matcher = screener.matcher()
    matrix, valid = sketches([w.content.text for w in works])  # the text item_values stores
    for work, row, ok in zip(works, matrix, valid.tolist(), strict=True):
        work.sketch = (row, ok)
        unit = units[work.source.unit_id]
        revision = revision_of_new_item(
            0,
            work.content,
            [{"name": a.name, "url": a.url} for a in work.raw.attachments],  # as item_values stores them
            (unit.website, work.source.url, work.raw.url),
            unit.level,
            work.source.kind,
        )
        work.screened = (revision, prescreen(revision, screener, matcher))


def _screen_new(session: Session, new: list[_Work], ids: list[int]) -> FirstScreening:
    """Screen the first revisions of the new items at once (same rows as the single path); returns
    what auto-approval needs of them."""
    _prescreen(session, [w for w in new if w.screened is None], only_unknown=False)
    screened = sorted(
        (
            (replace(w.screened[0], item_id=item_id), w.screened[1])
            for w, item_id in zip(new, ids, strict=True)
            if w.screened is not None
        ),
        key=lambda pair: pair[0].item_id,
    )
    results = screen_revisions(
        session, [r for r, _ in screened], fresh=True, base=[result for _, result in screened]
    )
    hashes = {item_id: w.content.content_hash for w, item_id in zip(new, ids, strict=True)}
    return FirstScreening(hashes, results)


def _bulk(session: Session, works: list[_Work], now: datetime) -> dict[int, IngestOutcome]:
    outcomes: dict[int, IngestOutcome] = {}
    independent, deferred = _split(works)
    by_url, by_guid = _known(session, independent)
    new: list[_Work] = []
    matched: list[tuple[_Work, _Known]] = []
    for work in independent:
        known = by_url.get(work.content.canonical_url)
        if known is None and work.guid:
            known = by_guid.get((work.source.id, work.guid))
        if known is None:
            new.append(work)
        else:
            matched.append((work, known))
    latest = _latest_hashes(session, [known for _, known in matched])
    _restore_seen(session, [known.id for _, known in matched])
    if new:
        ids = _insert_new(session, new, now)
        for work, item_id in zip(new, ids, strict=True):
            outcomes[work.index] = IngestOutcome("new", item_id)
        first = _screen_new(session, new, ids)
        # Near-duplicate reposts → earliest original (hub/reposts.py); every new work was prescreened.
        sketched = {i: w.sketch for w, i in zip(new, ids, strict=True) if w.sketch is not None}
        link_reposts_by_id(session, ids, sketched=sketched)
        approved = set(
            auto_approve_new(session, [(i, w.source.id) for w, i in zip(new, ids, strict=True)], now, first)
        )
        _queue_index(session, [i for i in ids if i not in approved], now)  # approvals queued their own
    for work, known in matched:
        if latest[known.id] == work.content.content_hash:
            outcomes[work.index] = IngestOutcome("unchanged", known.id)
            continue
        item = session.get(Item, known.id, populate_existing=True)
        if item is None:  # deleted meanwhile by another process: let the single path decide
            deferred.append(work)
            continue
        outcomes[work.index] = IngestOutcome(_update(session, item, work.raw, work.content, now), item.id)
    for work in sorted(deferred, key=lambda w: w.index):
        outcomes[work.index] = ingest(session, work.raw, now)
    return outcomes


def ingest_batch(
    session: Session, raws: Sequence[RawItem], now: datetime | None = None
) -> list[IngestOutcome | None]:
    """Ingest ``raws`` like ``ingest`` would one by one; None for a raw the single path refuses.

    Runs in the caller's transaction (the caller commits). Unusable raws (no title, no body, bad URL,
    unknown source) are logged and yield None instead of raising, so one bad item never costs the batch.
    """
    now = now or utcnow()
    if not raws:
        return []
    session.flush()
    works = _usable(session, raws)
    usable = [w for w in works if w is not None]
    if not usable:
        return [None] * len(raws)
    _prescreen(session, usable, only_unknown=True)
    try:
        with session.begin_nested():
            outcomes = _bulk(session, usable, now)
    except IntegrityError:
        # Another process stored one of these URLs since we looked: redo the batch item by item.
        logger.info("batch of %d items raced another writer; ingesting one by one", len(raws))
        outcomes = {}
        for work in usable:
            with session.begin_nested():
                outcomes[work.index] = ingest(session, work.raw, now)
    return [outcomes.get(i) if works[i] is not None else None for i in range(len(raws))]
