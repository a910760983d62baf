"""The outbox drainer and the full reindex (docs/architecture.md step 7).

Moderation writes an OutboxEntry in the same transaction as each state change. The drainer applies
them in id order; the index always follows the item's state *now* (an "upsert" of an item that is no
longer approved becomes a delete), so replaying rows is harmless. A backend failure keeps the rows
for a later attempt with exponential back-off: an index outage delays updates, never loses them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, selectinload

from hub.db import Database
from hub.models import Item, ItemState, OutboxEntry, OutboxOp, Source, Unit
from hub.timeutil import utcnow
from index.backend import SearchBackend, SearchBackendError, SearchDocument
from index.document import build_document, document_of

BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 3600.0
REINDEX_CHUNK = 500


@dataclass(frozen=True, slots=True)
class DrainStats:
    """What one drain did: rows applied, rows that failed (kept for retry), rows still waiting."""

    applied: int
    failed: int
    remaining: int

    def __str__(self) -> str:
        return f"applied {self.applied}, failed {self.failed}, remaining {self.remaining}"


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """Outbox lag: waiting rows, rows that failed at least once, age of the oldest row in seconds."""

    pending: int
    failing: int
    oldest_age_s: float | None

    def __str__(self) -> str:
        age = "-" if self.oldest_age_s is None else f"{self.oldest_age_s:.0f}s"
        return f"outbox pending {self.pending}, failing {self.failing}, oldest {age}"


@dataclass(frozen=True, slots=True)
class ReindexResult:
    """What a full reindex did."""

    indexed: int
    requeued: int  # items changed while the reindex ran, queued again for the drainer

    def __str__(self) -> str:
        return f"indexed {self.indexed} documents, requeued {self.requeued} changed meanwhile"


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


@dataclass(frozen=True, slots=True)
class _Row:
    """An outbox row as the drainer needs it (plain columns: no ORM bookkeeping per row)."""

    id: int
    item_id: int
    op: str


# The item columns a SearchDocument is built from (index/document.py); the body HTML is not read.
_DOCUMENT_COLUMNS = (
    Item.id,
    Item.version,
    Item.title,
    Item.text,
    Item.summary,
    Item.url,
    Item.unit_id,
    Item.source_id,
    Item.category,
    Item.published_at,
    Item.first_seen_at,
    Item.attachments,
    Item.state,
)


def _due_rows(session: Session, now: datetime, batch: int) -> list[_Row]:
    due = or_(OutboxEntry.next_attempt_at.is_(None), OutboxEntry.next_attempt_at <= now)
    query = select(OutboxEntry.id, OutboxEntry.item_id, OutboxEntry.op).where(due)
    return [_Row(*row) for row in session.execute(query.order_by(OutboxEntry.id).limit(batch))]


def _documents(session: Session, item_ids: list[int]) -> dict[int, SearchDocument]:
    """Documents of the approved items among ``item_ids``: one query for the items, one each for
    their units and sources."""
    rows = session.execute(
        select(*_DOCUMENT_COLUMNS).where(Item.id.in_(item_ids), Item.state == ItemState.APPROVED.value)
    ).all()
    if not rows:
        return {}
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_({r.unit_id for r in rows})))}
    sources = {
        s.id: s for s in session.scalars(select(Source).where(Source.id.in_({r.source_id for r in rows})))
    }
    return {row.id: document_of(row, units[row.unit_id], sources[row.source_id]) for row in rows}


def _plan(session: Session, rows: list[_Row]) -> tuple[list[SearchDocument], list[int]]:
    newest: dict[int, _Row] = {}
    for row in rows:  # id order: the last row of an item wins
        newest[row.item_id] = row
    wanted = [item_id for item_id, row in newest.items() if row.op == OutboxOp.UPSERT.value]
    found = _documents(session, wanted) if wanted else {}
    documents = [found[item_id] for item_id in wanted if item_id in found]
    deletes = [item_id for item_id in newest if item_id not in found]
    return documents, deletes


def _apply_batch(db: Database, backend: SearchBackend, now: datetime, batch: int) -> tuple[int, int]:
    """Apply one batch of due rows; returns (applied, failed) row counts."""
    with db.session() as session:
        rows = _due_rows(session, now, batch)
        if not rows:
            return 0, 0
        ids = [row.id for row in rows]
        documents, deletes = _plan(session, rows)
    try:
        if documents:
            backend.upsert(documents)
        if deletes:
            backend.delete(deletes)
    except SearchBackendError as exc:
        with db.session() as session:
            for entry in session.scalars(select(OutboxEntry).where(OutboxEntry.id.in_(ids))):
                entry.attempts += 1
                entry.last_error = str(exc)[:2000]
                entry.next_attempt_at = now + _backoff(entry.attempts)
        return 0, len(ids)
    with db.session() as session:
        session.execute(delete(OutboxEntry).where(OutboxEntry.id.in_(ids)))
    return len(ids), 0


def drain_outbox(
    db: Database, backend: SearchBackend, batch: int = 500, now: datetime | None = None
) -> DrainStats:
    """Apply every due outbox row in id order, in batches; stops at the first backend failure."""
    now = now or utcnow()
    applied = failed = 0
    while True:
        done, broken = _apply_batch(db, backend, now, batch)
        applied, failed = applied + done, failed + broken
        if broken or not done:
            break
    with db.session() as session:
        remaining = session.scalar(select(func.count()).select_from(OutboxEntry)) or 0
    return DrainStats(applied=applied, failed=failed, remaining=remaining)


def index_status(db: Database, now: datetime | None = None) -> IndexStatus:
    """Rows waiting in the outbox, rows that failed at least once, and the age of the oldest row."""
    now = now or utcnow()
    with db.session() as session:
        pending = session.scalar(select(func.count()).select_from(OutboxEntry)) or 0
        failing = session.scalar(select(func.count()).where(OutboxEntry.attempts > 0)) or 0
        oldest = session.scalar(select(func.min(OutboxEntry.created_at)))
    age = None if oldest is None else max((now - oldest).total_seconds(), 0.0)
    return IndexStatus(pending=pending, failing=failing, oldest_age_s=age)


def _approved_documents(db: Database) -> Iterator[SearchDocument]:
    last_id = 0
    while True:  # keyset pages keep memory flat on a large store
        with db.session() as session:
            items = list(
                session.scalars(
                    select(Item)
                    .where(Item.state == ItemState.APPROVED.value, Item.id > last_id)
                    .order_by(Item.id)
                    .limit(REINDEX_CHUNK)
                    .options(selectinload(Item.unit), selectinload(Item.source))
                )
            )
            documents = [build_document(item) for item in items]
        if not documents:
            return
        yield from documents
        last_id = documents[-1].item_id


def reindex(db: Database, backend: SearchBackend) -> ReindexResult:
    """Rebuild the index from the approved items of the database and swap it in."""
    started = utcnow()
    backend.ensure_ready()
    indexed = backend.rebuild(_approved_documents(db))
    # Changes made while the rebuild read the store may have gone to the old index: queue them again.
    with db.session() as session:
        changed = list(session.scalars(select(Item.id).where(Item.updated_at >= started)))
        session.add_all(OutboxEntry(item_id=item_id, op=OutboxOp.UPSERT.value) for item_id in changed)
    return ReindexResult(indexed=indexed, requeued=len(changed))
