"""The outbox drainer and the full reindex (docs/architecture.md step 7).

Every change to an item's indexed content or state writes an OutboxEntry in the same transaction
(moderation, ingest, repost linking). The drainer applies the rows in id order, a batch at a time;
the index always follows the item *now*: every item that exists is indexed with its state (the
public sees only ``PUBLIC_STATES``, a query filter), and only an item that no longer exists is
deleted, so replaying rows is harmless. A state change of an original changes the ``collapse_into``
of its reposts, so the reposts of every drained item are indexed again in the same bulk request.

``backend.bulk`` reports failures per item: a failed item keeps its rows, with one more attempt, the
error and an exponential back-off; a repost that failed gets a row of its own. A backend that cannot
be reached at all keeps every row. An index outage delays updates, never loses them.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from hub.db import Database
from hub.models import Item, OutboxEntry, OutboxOp, core_table
from hub.timeutil import doubling_backoff, utcnow
from index.backend import CatchUp, SearchBackend, SearchBackendError, SearchDocument
from index.document import CHUNK, documents_for
from index.drainlock import drain_lock

BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 3600.0
REINDEX_CHUNK = 500
REINDEX_LOCK_WAIT_S = 120.0  # how long a reindex waits for a drain running when it starts
LOCK_POLL_S = 0.5
ERROR_MAX_CHARS = 2000
DEFAULT_ZONE = "Asia/Shanghai"  # the settings default (hub/settings.py ``timezone``); callers pass theirs
DEFAULT_MAX_ATTEMPTS = 20  # the settings default of ``search.outbox_max_attempts``
SHOWN_FAILURES = 5  # latest failures listed by index_status

# The error of a row kept because nothing answered; index/catchup.py looks for it.
UNREACHABLE_PREFIX = "search backend unavailable"


@dataclass(frozen=True, slots=True)
class DrainStats:
    """What one drain did, in outbox rows (applied: done and deleted; failed: kept or added for retry;
    remaining: rows left in the outbox), and in documents written and deleted."""

    applied: int
    failed: int
    remaining: int
    written: int = 0
    deleted: int = 0
    busy: bool = False  # another drain held the store's drain lock: it applies the rows

    def __str__(self) -> str:
        if self.busy:
            return f"another drain is running; remaining {self.remaining}"
        return (
            f"applied {self.applied}, failed {self.failed}, remaining {self.remaining}"
            f" ({self.written} documents written, {self.deleted} deleted)"
        )


@dataclass(frozen=True, slots=True)
class OutboxFailure:
    """One outbox row that failed: its item, how often, why, and when it is tried again."""

    item_id: int
    attempts: int
    error: str
    failed_at: datetime | None
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """Outbox lag and failures: waiting rows, rows that failed at least once, rows that failed
    ``max_attempts`` times or more (stuck: they keep being retried, an operator should look), the age
    of the oldest row in seconds, and the latest failures."""

    pending: int
    failing: int
    stuck: int
    oldest_age_s: float | None
    max_attempts: int
    latest_failures: list[OutboxFailure] = field(default_factory=list)

    def __str__(self) -> str:
        age = "-" if self.oldest_age_s is None else f"{self.oldest_age_s:.0f}s"
        lines = [
            f"outbox pending {self.pending}, failing {self.failing}, stuck {self.stuck}"
            f" (>= {self.max_attempts} attempts), oldest {age}"
        ]
        for failure in self.latest_failures:
            lines.append(f"  item {failure.item_id}: {failure.attempts} attempts, {failure.error[:200]}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON output."""
        values = asdict(self)
        for failure in values["latest_failures"]:
            for key in ("failed_at", "next_attempt_at"):
                failure[key] = failure[key].isoformat() if failure[key] is not None else None
        return values


@dataclass(frozen=True, slots=True)
class ReindexResult:
    """What a full reindex did."""

    indexed: int

    def __str__(self) -> str:
        return f"indexed {self.indexed} documents"


def _backoff(attempts: int) -> timedelta:
    return doubling_backoff(attempts, BACKOFF_BASE_S, BACKOFF_MAX_S)


@dataclass(frozen=True, slots=True)
class _Row:
    """An outbox row as the drainer needs it (plain columns: no ORM bookkeeping per row)."""

    id: int
    item_id: int
    attempts: int


@dataclass(frozen=True, slots=True)
class _Batch:
    """What one batch did: rows applied and failed, documents written and deleted; ``broken``: the
    backend could not be reached (the drain stops)."""

    applied: int = 0
    failed: int = 0
    written: int = 0
    deleted: int = 0
    broken: bool = False


def _due_rows(session: Session, now: datetime, batch: int, last_id: int) -> list[_Row]:
    due = or_(OutboxEntry.next_attempt_at.is_(None), OutboxEntry.next_attempt_at <= now)
    query = select(OutboxEntry.id, OutboxEntry.item_id, OutboxEntry.attempts).where(
        due, OutboxEntry.id <= last_id
    )
    return [_Row(*row) for row in session.execute(query.order_by(OutboxEntry.id).limit(batch))]


def _reposts_of(session: Session, item_ids: list[int]) -> set[int]:
    """Items that repost any of ``item_ids`` (their ``collapse_into`` follows the original's state)."""
    found: set[int] = set()
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        found.update(session.scalars(select(Item.id).where(Item.repost_of_id.in_(chunk))))
    return found


def _plan(session: Session, rows: list[_Row], zone: str) -> tuple[list[SearchDocument], list[int], set[int]]:
    """Documents to write and items to delete for ``rows``; and the reposts added (they have no row).

    Only the item matters, not the op of its rows: the index follows the item's state now (for
    several rows of an item, the newest wins: they all say "look at the item").
    """
    return _changes(session, list(dict.fromkeys(row.item_id for row in rows)), zone)


def _changes(
    session: Session, item_ids: list[int], zone: str
) -> tuple[list[SearchDocument], list[int], set[int]]:
    """Documents of ``item_ids`` and their reposts, the items gone from the store, the reposts added."""
    followers = _reposts_of(session, item_ids) - set(item_ids)
    found = documents_for(session, [*item_ids, *followers], zone)
    documents = [found[item_id] for item_id in [*item_ids, *sorted(followers)] if item_id in found]
    deletes = [item_id for item_id in item_ids if item_id not in found]
    return documents, deletes, followers & found.keys()


def _retry_values(row_id: int, attempts: int, error: str, now: datetime) -> dict[str, Any]:
    return {
        "row_id": row_id,
        "new_attempts": attempts,
        "error": error[:ERROR_MAX_CHARS],
        "failed": now,
        "retry_at": now + _backoff(attempts),
    }


def _keep_failed(
    session: Session, rows: list[_Row], errors: dict[int, str], new_items: dict[int, str], now: datetime
) -> int:
    """Failed rows get one more attempt and a back-off; failed reposts without a row get one.
    Returns the number of rows kept or added."""
    table = core_table(OutboxEntry)
    kept = [_retry_values(r.id, r.attempts + 1, errors[r.item_id], now) for r in rows if r.item_id in errors]
    if kept:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values(
                attempts=bindparam("new_attempts"),
                last_error=bindparam("error"),
                failed_at=bindparam("failed"),
                next_attempt_at=bindparam("retry_at"),
            ),
            kept,
        )
    if new_items:
        session.execute(
            insert(table),
            [
                {
                    "item_id": item_id,
                    "op": OutboxOp.UPSERT.value,
                    "created_at": now,
                    "attempts": 1,
                    "last_error": error[:ERROR_MAX_CHARS],
                    "failed_at": now,
                    "next_attempt_at": now + _backoff(1),
                }
                for item_id, error in sorted(new_items.items())
            ],
        )
    return len(kept) + len(new_items)


def _apply_batch(
    db: Database, backend: SearchBackend, now: datetime, batch: int, last_id: int, zone: str
) -> _Batch:
    """Apply one batch of due rows (rows and documents read in one transaction: a consistent view)."""
    with db.session() as session:
        rows = _due_rows(session, now, batch, last_id)
        if not rows:
            return _Batch()
        documents, deletes, followers = _plan(session, rows, zone)
    try:
        result = backend.bulk(documents, deletes)
    except SearchBackendError as exc:
        error = f"{UNREACHABLE_PREFIX}: {exc}"
        with db.session() as session:
            failed = _keep_failed(session, rows, dict.fromkeys((r.item_id for r in rows), error), {}, now)
        return _Batch(failed=failed, broken=True)
    errors = result.failed
    done = [row.id for row in rows if row.item_id not in errors]
    with db.session() as session:
        failed = _keep_failed(session, rows, errors, {i: e for i, e in errors.items() if i in followers}, now)
        for start in range(0, len(done), CHUNK):
            chunk = done[start : start + CHUNK]
            session.execute(delete(OutboxEntry).where(OutboxEntry.id.in_(chunk)))
    return _Batch(
        applied=len(done),
        failed=failed,
        written=sum(1 for d in documents if d.item_id not in errors),
        deleted=sum(1 for item_id in deletes if item_id not in errors),
    )


def drain_outbox(
    db: Database,
    backend: SearchBackend,
    batch: int = 500,
    now: datetime | None = None,
    *,
    zone: str = DEFAULT_ZONE,
) -> DrainStats:
    """Apply every row due at ``now`` that was in the outbox when the drain began, in id order, in
    batches of ``batch`` rows; stops early if the backend cannot be reached. ``zone``: the configured
    time zone (settings ``timezone``), for the month of each document. One drain at a time per store
    (index/drainlock.py): while another runs, this one does nothing and says ``busy``."""
    now = now or utcnow()
    applied = failed = written = deleted = 0
    with drain_lock(db) as held:
        if held:
            with db.session() as session:
                last_id = session.scalar(select(func.max(OutboxEntry.id))) or 0
            while True:
                step = _apply_batch(db, backend, now, batch, last_id, zone)
                applied, failed = applied + step.applied, failed + step.failed
                written, deleted = written + step.written, deleted + step.deleted
                # Failed rows are not due again before ``now`` + back-off: every batch makes progress.
                if step.broken or not (step.applied or step.failed):
                    break
    with db.session() as session:
        remaining = session.scalar(select(func.count()).select_from(OutboxEntry)) or 0
    return DrainStats(applied, failed, remaining, written, deleted, busy=not held)


def index_status(
    db: Database, now: datetime | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> IndexStatus:
    """Rows waiting in the outbox, rows that failed (at least once, and ``max_attempts`` times or
    more), the age of the oldest row, and the latest few failures."""
    now = now or utcnow()
    with db.session() as session:
        pending = session.scalar(select(func.count()).select_from(OutboxEntry)) or 0
        failing = session.scalar(select(func.count()).where(OutboxEntry.attempts > 0)) or 0
        stuck = session.scalar(select(func.count()).where(OutboxEntry.attempts >= max_attempts)) or 0
        oldest = session.scalar(select(func.min(OutboxEntry.created_at)))
        latest = session.execute(
            select(
                OutboxEntry.item_id,
                OutboxEntry.attempts,
                OutboxEntry.last_error,
                OutboxEntry.failed_at,
                OutboxEntry.next_attempt_at,
            )
            .where(OutboxEntry.attempts > 0)
            .order_by(OutboxEntry.failed_at.desc(), OutboxEntry.id.desc())
            .limit(SHOWN_FAILURES)
        ).all()
    age = None if oldest is None else max((now - oldest).total_seconds(), 0.0)
    failures = [OutboxFailure(r[0], r[1], r[2] or "", r[3], r[4]) for r in latest]
    return IndexStatus(pending, failing, stuck, age, max_attempts, failures)


def _all_documents(db: Database, zone: str) -> Iterator[SearchDocument]:
    last_id = 0
    while True:  # keyset pages keep memory flat on a large store
        with db.session() as session:
            ids = list(
                session.scalars(
                    select(Item.id).where(Item.id > last_id).order_by(Item.id).limit(REINDEX_CHUNK)
                )
            )
            if not ids:
                return
            found = documents_for(session, ids, zone)
        yield from (found[item_id] for item_id in ids if item_id in found)
        last_id = ids[-1]


def _id_runs(session: Session) -> list[tuple[int, int]]:
    """The outbox row ids visible now, as runs of consecutive ids (few: rows are added and drained in
    id order), so that a large backlog costs little memory."""
    runs: list[tuple[int, int]] = []
    for row_id in session.scalars(select(OutboxEntry.id).order_by(OutboxEntry.id)).yield_per(10_000):
        if runs and runs[-1][1] == row_id - 1:
            runs[-1] = (runs[-1][0], row_id)
        else:
            runs.append((row_id, row_id))
    return runs


def _in_runs(runs: list[tuple[int, int]], row_id: int) -> bool:
    position = bisect_right(runs, (row_id, row_id)) - 1  # the last run starting at or before row_id
    return position >= 0 and runs[position][0] <= row_id <= runs[position][1]


@dataclass(frozen=True, slots=True)
class _CatchUpSource:
    """The changes made since a reindex began, read when its rebuild has read every item.

    The high-water mark is the set of outbox rows visible when the reindex began (their changes were
    committed, so the rebuild reads them): every other row is caught up, whatever its id (a PostgreSQL
    transaction can commit after one that took a higher id) and whatever the writer's clock said. No
    drain runs during a reindex (it holds the drain lock), so no row is deleted meanwhile; the rows are
    kept and the live drain applies them to the new index too (versions make that harmless).
    """

    db: Database
    seen: list[tuple[int, int]]
    zone: str
    batch: int = REINDEX_CHUNK

    def __call__(self) -> Iterator[CatchUp]:
        """The changed items' documents and deletions, ``batch`` items at a time (a large backlog
        written during the rebuild never sits in memory whole)."""
        with self.db.session() as session:
            ordered = select(OutboxEntry.id, OutboxEntry.item_id).order_by(OutboxEntry.id)
            rows = session.execute(ordered.execution_options(yield_per=10_000))
            item_ids = list(
                dict.fromkeys(item_id for row_id, item_id in rows if not _in_runs(self.seen, row_id))
            )
        for start in range(0, len(item_ids), self.batch):
            with self.db.session() as session:  # one short session per chunk: no identity map growth
                found, gone, _followers = _changes(session, item_ids[start : start + self.batch], self.zone)
            yield CatchUp(found, gone)


def reindex(
    db: Database,
    backend: SearchBackend,
    *,
    zone: str = DEFAULT_ZONE,
    lock_wait_s: float = REINDEX_LOCK_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> ReindexResult:
    """Rebuild the index from every item of the database, catch up on what changed meanwhile, and
    swap it in (the catch-up is applied to the new index before the swap: docs/search.md).

    The reindex holds the store's drain lock throughout (waiting up to ``lock_wait_s`` for a drain
    running when it starts): a drain meanwhile would write into the old index and delete rows the
    catch-up needs. The changes wait in the outbox and go into the new index, by the catch-up or by
    the first drain after the swap."""
    waited = 0.0
    while True:
        with drain_lock(db) as held:
            if held:
                with db.session() as session:
                    seen = _id_runs(session)
                backend.ensure_ready()
                indexed = backend.rebuild(_all_documents(db, zone), _CatchUpSource(db, seen, zone))
                return ReindexResult(indexed=indexed)
        if waited >= lock_wait_s:
            raise SearchBackendError(
                f"an outbox drain has been running for {lock_wait_s:.0f} s: reindex later"
            )
        sleep(LOCK_POLL_S)
        waited += LOCK_POLL_S
