"""Screening stored: hub.ingest screens every new item and new revision (docs/architecture.md step 6).

``screen_item`` screens one revision of an ORM item (the single ingest path, re-screens);
``screen_new_items`` screens the first revisions of many just-inserted items at once (the batch
ingest path) with a few statements per batch: one SELECT of what screening reads, one duplicate
lookup, one executemany of hits, one executemany of risk scores. Both go through ``_screen`` and
give the same rows. The hits of a revision replace any earlier hits of that revision (a re-screen
after a lexicon change), and ``Item.risk_score`` orders the moderation queue.

The screener comes from the session: a process hands one to its session factory with
``use_screener`` (the crawl worker, the web app and the CLI do, from their settings), so the lexicon
is loaded once per process and followed when its files change; a session without one builds the
default screener once for that session.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from hub.models import Item, ItemRevision, ScreeningHit, Source, SourceKind, Unit, core_table
from hub.settings import ModerationSettings
from moderation.checks import html_links
from moderation.matcher import Matcher
from moderation.reasons import ReasonCatalog
from moderation.screen import Screener, ScreeningResult, screen

SCREENER_KEY = "xinlian.screener"


def use_screener(sessions: sessionmaker[Session], screener: Screener) -> None:
    """Make every session of ``sessions`` screen with ``screener`` (configured lexicons and options)."""
    info = dict(sessions.kw.get("info") or {})
    info[SCREENER_KEY] = screener
    sessions.configure(info=info)


def configure_screening(sessions: sessionmaker[Session], settings: ModerationSettings) -> Screener:
    """Give the sessions of a process one screener built from its settings, unless they have one.

    Called once per process where its sessions are made (crawl worker, web app, CLI): the lexicon
    files and the reasons file are read here, so a bad one stops the process at start-up with its
    file and line (LexiconError, ReasonFileError); the automaton is built on first use, then shared
    by every session and batch until a lexicon file changes. Returns the screener in use.
    """
    current = (sessions.kw.get("info") or {}).get(SCREENER_KEY)
    if isinstance(current, Screener):
        return current
    screener = Screener.from_settings(settings)
    screener.loader.current()
    ReasonCatalog.load(settings.reasons_file)
    use_screener(sessions, screener)
    return screener


def screener_for(session: Session) -> Screener:
    """The session's screener; the defaults (config/lexicons) when none was configured."""
    screener = session.info.get(SCREENER_KEY)
    if not isinstance(screener, Screener):
        screener = Screener.from_settings(ModerationSettings())
        session.info[SCREENER_KEY] = screener
    return screener


@dataclass(frozen=True, slots=True)
class RevisionData:
    """What screening reads of one revision, its item, source and unit (plain data, no ORM)."""

    item_id: int
    number: int
    title: str
    text: str
    html: str
    content_hash: str
    attachments: tuple[tuple[str, str], ...]  # (name, url) of the item's attachments
    own_hosts: frozenset[str]  # the unit's site, the source and the item: links there are never flagged
    unit_level: str | None
    account: bool  # a social-account source (weighs more in the risk score)


def _host(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None


def _revision_data(
    item_id: int,
    number: int,
    revision: Any,  # a row with title, text, html and content_hash
    attachments: Iterable[Any] | None,
    hosts: tuple[str | None, str | None, str | None],
    unit_level: str | None,
    source_kind: str,
) -> RevisionData:
    entries = [entry for entry in attachments or [] if isinstance(entry, dict)]
    return RevisionData(
        item_id=item_id,
        number=number,
        title=revision.title,
        text=revision.text,
        html=revision.html,
        content_hash=revision.content_hash,
        attachments=tuple((str(e.get("name") or ""), str(e.get("url") or "")) for e in entries),
        own_hosts=frozenset(host for host in map(_host, hosts) if host),
        unit_level=unit_level,
        account=source_kind == SourceKind.ACCOUNT.value,
    )


def _duplicates(session: Session, revisions: Sequence[RevisionData]) -> dict[int, int]:
    """Per item: the oldest other item with exactly its revision's content (one query for all)."""
    hashes = {revision.content_hash for revision in revisions}
    holders: dict[str, list[int]] = {}
    rows = session.execute(
        select(Item.content_hash, Item.id).where(Item.content_hash.in_(hashes)).order_by(Item.id)
    )
    for digest, item_id in rows:
        holders.setdefault(digest, []).append(item_id)
    found: dict[int, int] = {}
    for revision in revisions:
        other = next((i for i in holders.get(revision.content_hash, ()) if i != revision.item_id), None)
        if other is not None:
            found[revision.item_id] = other
    return found


def _screen(
    revision: RevisionData, screener: Screener, matcher: Matcher, duplicate_of: int | None
) -> ScreeningResult:
    options = screener.options
    links = html_links(revision.html) + [url for _name, url in revision.attachments]
    return screen(
        revision.text,
        revision.title,
        links,
        matcher=matcher,
        options=options,
        attachment_names=[name for name, _url in revision.attachments],
        own_hosts=revision.own_hosts,
        trust_factor=options.trust_factor(revision.unit_level, revision.account),
        duplicate_of=duplicate_of,
    )


def _hit_rows(revision: RevisionData, result: ScreeningResult) -> list[dict[str, Any]]:
    return [
        {
            "item_id": revision.item_id,
            "revision_number": revision.number,
            "field": hit.field,
            "start": hit.start,
            "end": hit.end,
            "term": hit.term,
            "category": hit.category,
            "severity": hit.severity,
            "lexicon_version": hit.lexicon_version,
        }
        for hit in result.hits
    ]


def screen_item(
    session: Session, item: Item, revision_number: int, screener: Screener | None = None
) -> ScreeningResult:
    """Screen revision ``revision_number`` of ``item``, store its hits and the item's risk score.

    Runs in the caller's transaction (the caller commits).
    """
    screener = screener or screener_for(session)
    stored = session.execute(
        select(ItemRevision.title, ItemRevision.text, ItemRevision.html, ItemRevision.content_hash).where(
            ItemRevision.item_id == item.id, ItemRevision.number == revision_number
        )
    ).one()
    source, unit = item.source, item.unit
    revision = _revision_data(
        item.id,
        revision_number,
        stored,
        item.attachments,
        (unit.website, source.url, item.url),
        unit.level,
        source.kind,
    )
    result = _screen(revision, screener, screener.matcher(), _duplicates(session, [revision]).get(item.id))
    session.execute(
        delete(ScreeningHit).where(
            ScreeningHit.item_id == item.id, ScreeningHit.revision_number == revision_number
        )
    )
    rows = _hit_rows(revision, result)
    if rows:
        session.execute(insert(core_table(ScreeningHit)), rows)
    item.risk_score = result.risk_score
    session.flush()
    return result


def new_revisions(session: Session, item_ids: Sequence[int]) -> list[RevisionData]:
    """What screening reads of the first revisions of ``item_ids``, in id order (one SELECT)."""
    rows = session.execute(
        select(
            Item.id,
            ItemRevision.title,
            ItemRevision.text,
            ItemRevision.html,
            ItemRevision.content_hash,
            Item.attachments,
            Unit.website,
            Source.url.label("source_url"),
            Item.url,
            Unit.level,
            Source.kind,
        )
        .join(ItemRevision, and_(ItemRevision.item_id == Item.id, ItemRevision.number == 1))
        .join(Source, Source.id == Item.source_id)
        .join(Unit, Unit.id == Item.unit_id)
        .where(Item.id.in_(item_ids))
        .order_by(Item.id)
    )
    return [
        _revision_data(
            row.id, 1, row, row.attachments, (row.website, row.source_url, row.url), row.level, row.kind
        )
        for row in rows
    ]


def revision_of_new_item(
    item_id: int,
    content: Any,  # title, text, html and content_hash of the item's first revision
    attachments: Iterable[Any] | None,
    hosts: tuple[str | None, str | None, str | None],  # unit website, source URL, item URL
    unit_level: str | None,
    source_kind: str,
) -> RevisionData:
    """What screening reads of an item's first revision, from values in hand (no query).

    The batch ingest builds these before inserting (``item_id`` 0 until the item has its id), so that
    ``prescreen`` runs before the store's write lock is taken.
    """
    return _revision_data(item_id, 1, content, attachments, hosts, unit_level, source_kind)


def prescreen(revision: RevisionData, screener: Screener, matcher: Matcher | None = None) -> ScreeningResult:
    """Everything of a revision's screening that needs no query: all but the duplicate check.

    A pure function of the revision and the lexicon, so callers run it outside their write
    transaction and pass it to ``screen_revisions`` as ``base``.
    """
    return _screen(revision, screener, matcher or screener.matcher(), None)


def screen_revisions(
    session: Session,
    revisions: Sequence[RevisionData],
    screener: Screener | None = None,
    *,
    fresh: bool = False,
    base: Sequence[ScreeningResult] | None = None,
) -> dict[int, ScreeningResult]:
    """Screen many revisions (of distinct items) and store hits and risk scores; results by item id.

    The same rows as ``screen_item`` on each, with one duplicate lookup, one executemany of hits and
    one of risk scores, all on one lexicon version (checked once per batch, not per item).
    ``fresh``: the revisions were just inserted — no earlier hits to replace, and a risk score of 0
    (the column default) need not be written. ``base``: ``prescreen`` of each revision, computed
    earlier; only revisions found to duplicate another item are screened again here. Runs in the
    caller's transaction; scores are written with a Core statement, so an ``Item`` of these ids
    already loaded in the session is not refreshed.
    """
    if not revisions:
        return {}
    screener = screener or screener_for(session)
    duplicates = _duplicates(session, revisions)
    if base is None:
        matcher = screener.matcher()
        results = {r.item_id: _screen(r, screener, matcher, duplicates.get(r.item_id)) for r in revisions}
    else:
        # The duplicate hit is the last one screen() adds: a revision without it keeps its base result.
        results = {
            r.item_id: result
            if (duplicate := duplicates.get(r.item_id)) is None
            else _screen(r, screener, screener.matcher(), duplicate)
            for r, result in zip(revisions, base, strict=True)
        }
    if not fresh:
        session.execute(
            delete(ScreeningHit).where(
                or_(
                    *(
                        and_(ScreeningHit.item_id == r.item_id, ScreeningHit.revision_number == r.number)
                        for r in revisions
                    )
                )
            )
        )
    rows = [row for r in revisions for row in _hit_rows(r, results[r.item_id])]
    if rows:
        session.execute(insert(core_table(ScreeningHit)), rows)
    scores = [
        {"item": item_id, "risk": result.risk_score}
        for item_id, result in results.items()
        if result.risk_score or not fresh
    ]
    if scores:
        items = core_table(Item)
        session.connection().execute(
            update(items).where(items.c.id == bindparam("item")).values(risk_score=bindparam("risk")), scores
        )
    return results


def screen_new_items(
    session: Session, item_ids: Sequence[int], screener: Screener | None = None
) -> dict[int, int]:
    """Screen the first revisions of just-inserted items; returns item id → number of hits.

    Items inserted with Core statements in this transaction (hub/ingestbatch.py): nothing of them is
    loaded as ORM objects, and nothing has screened them yet.
    """
    results = screen_revisions(session, new_revisions(session, item_ids), screener, fresh=True)
    return {item_id: len(result.hits) for item_id, result in results.items()}
