"""Per-source bookkeeping of one crawl run, and its single database writer.

Spiders report requests, responses, items and failures per source; when a source has nothing left
in flight its outcome is written (docs/architecture.md step 9). Every database write — ingest
batches and outcomes — goes through one worker thread: SQLite has one writer, and the reactor
never blocks on the database. A write that finds the store unreachable (a PostgreSQL restart) is
retried, whole, until the store answers again (hub/db.py ``retry_on_disconnect``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from crawlers.bodyhash import body_digest
from crawlers.errors import FailureInfo
from crawlers.sqlitelock import begin_writes_immediately
from hub.crawlrecord import Outcome
from hub.db import Database, retry_on_disconnect
from hub.fetchstats import FetchStats
from hub.ingestbatch import ingest_batch
from hub.outcomebatch import record_outcomes
from hub.rawitem import RawItem
from hub.removal import mark_gone, record_listings, record_unchanged_listings
from hub.schedule.headers import max_age_seconds, ttl_seconds

logger = logging.getLogger(__name__)

# Outcomes are written when this many are waiting, or this long after the first of a batch finished.
OUTCOME_BATCH = 200
OUTCOME_GATHER_S = 0.05
# Items stored per writer transaction at most: a burst of finished feeds would otherwise hand the writer
# thousands of items at once, and their ORM rows, sanitized bodies and fingerprints all live together
# until the commit (the crawl process's peak memory at 10,000 sources, bench/memory.py).
INGEST_BATCH = 200
# What the writer returns for an item it could not store (the store stayed unreachable): counted as failed.
STORE_ERROR = "store_error"


@dataclass(slots=True)
class SourceJob:
    """What a spider needs to know about one source (read from the DB before the crawl)."""

    id: int
    name: str
    kind: str
    url: str
    selectors: dict[str, Any] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    site_name: str | None = None
    body_hash: str | None = None  # of the last answer parsed (crawlers/bodyhash.py; read by load_jobs)


@dataclass(slots=True)
class SourceState:
    """Progress of one source in this run."""

    job: SourceJob
    started: float = field(default_factory=time.monotonic)
    in_flight: int = 0  # requests and items not finished yet
    items_seen: int = 0
    items_new: int = 0
    items_updated: int = 0
    items_failed: int = 0
    items_unstored: int = 0  # of items_failed: lost to a store error, not refused (see _outcome)
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    max_age_s: int | None = None  # Cache-Control max-age of the source URL's answer
    ttl_s: int | None = None  # the feed's <ttl>
    not_modified: bool = False
    body_hash: str | None = None  # of this run's answer, stored if it is parsed without a problem
    failure: FailureInfo | None = None
    notes: list[str] = field(default_factory=list)
    seen_urls: set[str] = field(default_factory=set)
    recorded: bool = False
    finished: float | None = None  # monotonic time the outcome was settled
    listed_urls: set[str] = field(default_factory=set)  # what the list pages / sitemap / feed showed
    gone_urls: list[str] = field(default_factory=list)  # known articles that answered 404/410
    fetch: FetchStats = field(default_factory=FetchStats)  # filled by crawlers/middlewares/stats.py


def _status(state: SourceState) -> str:
    """The outcome status of a settled source."""
    return "failed" if state.failure else "not_modified" if state.not_modified else "ok"


class CrawlLedger:
    """Tracks every source of a run and writes items and outcomes through one DB thread."""

    def __init__(
        self,
        database: Database,
        run_id: int,
        jobs: Iterable[SourceJob],
        removed_after_missing: int = 3,
        writer: ThreadPoolExecutor | None = None,
    ) -> None:
        self.database = database
        self.run_id = run_id
        self.removed_after_missing = removed_after_missing
        self.states = {job.id: SourceState(job) for job in jobs}
        begin_writes_immediately(database.engine)
        # A long-lived crawl process passes its one writer thread; otherwise the ledger owns one.
        self._owns_writer = writer is None
        self._writer = writer or ThreadPoolExecutor(max_workers=1, thread_name_prefix="xinlian-db")
        self._queue: list[tuple[RawItem, asyncio.Future[str | None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Future[Any]] = set()
        # Bookkeeping writes wait until every item found before them is stored (see submit).
        self._items_pending = 0
        self._deferred: list[Callable[[Session], None]] = []
        self._store_failed = False  # an item was lost to a store error: bookkeeping is not written
        self._finished: list[SourceState] = []  # outcomes waiting for the writer
        self._outcome_flusher: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()  # set by close(): outcomes no longer wait to gather

    # --- reports from spiders -------------------------------------------------------------------
    def begin(self, source_id: int) -> None:
        """A request or item of the source is in flight."""
        self.states[source_id].in_flight += 1

    def end(self, source_id: int) -> None:
        """A request or item of the source finished; the last one writes the outcome."""
        state = self.states[source_id]
        state.in_flight -= 1
        if state.in_flight <= 0:
            self._finalize(state)

    def item_found(self, source_id: int) -> None:
        """The spider produced an item for the source; it is in flight until stored."""
        self.states[source_id].items_seen += 1
        self._items_pending += 1
        self.begin(source_id)

    def responded(
        self,
        source_id: int,
        status: int,
        etag: str | None,
        last_modified: str | None,
        cache_control: str | None = None,
    ) -> None:
        """The source's own URL answered (conditional-GET validators are kept for the next run, its
        Cache-Control max-age is a floor for the next check)."""
        state = self.states[source_id]
        state.http_status = status
        state.not_modified = status == 304
        state.etag, state.last_modified = etag, last_modified
        state.max_age_s = max_age_seconds(cache_control)

    def same_body(self, source_id: int, body: bytes) -> bool:
        """The source's own URL answered 2xx with ``body``: True when it is the answer parsed last time,
        and the source is then not modified, as after a 304 (the caller parses nothing). Otherwise its
        hash waits for the outcome, which stores it if the parse went without a problem."""
        state = self.states[source_id]
        digest = body_digest(body)
        if digest == state.job.body_hash:
            state.not_modified = True
            return True
        state.body_hash = digest
        return False

    def forget_body(self, source_id: int) -> None:
        """This run's answer must not be skipped when seen again (a sitemap index: its sitemaps may change
        under it)."""
        self.states[source_id].body_hash = None

    def feed_ttl(self, source_id: int, ttl: str | None) -> None:
        """The feed's <ttl> (minutes), a floor for the next check."""
        self.states[source_id].ttl_s = ttl_seconds(ttl)

    def fail(self, source_id: int, info: FailureInfo) -> None:
        """The source failed; the first failure is the one recorded."""
        state = self.states[source_id]
        if state.failure is None:
            state.failure = info

    def note(self, source_id: int, message: str) -> None:
        """A non-fatal problem (an article that could not be fetched), kept for the outcome message."""
        self.states[source_id].notes.append(message)

    def listed(self, source_id: int, urls: Iterable[str]) -> None:
        """Article URLs the source's listing showed in this run (for removed-at-source detection)."""
        self.states[source_id].listed_urls.update(urls)

    def gone(self, source_id: int, url: str) -> None:
        """An article page of the source answered 404/410: its item is marked removed at source."""
        self.states[source_id].gone_urls.append(url)

    def claim_url(self, source_id: int, url: str) -> bool:
        """True the first time ``url`` is seen for this source (dedupe within a run)."""
        seen = self.states[source_id].seen_urls
        if url in seen:
            return False
        seen.add(url)
        return True

    def seen_count(self, source_id: int) -> int:
        """URLs claimed for the source so far in this run."""
        return len(self.states[source_id].seen_urls)

    # --- ingest ---------------------------------------------------------------------------------
    async def ingest(self, item: RawItem) -> str | None:
        """Store one item (batched with others waiting): new / updated / unchanged, or None if refused."""
        return (await self.ingest_many([item]))[0]

    async def ingest_many(self, items: list[RawItem]) -> list[str | None]:
        """Store items (batched with others waiting), as ``ingest`` each, with one wait for all of them
        instead of a task per item (a feed hands over its 20 entries at once)."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[str | None]] = []
        for item in items:
            future: asyncio.Future[str | None] = loop.create_future()
            self._queue.append((item, future))
            futures.append(future)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        statuses: list[str | None] = []
        try:
            for item, future in zip(items, futures, strict=True):
                status = await future  # the batch's futures are set together: no further waits
                self._items_pending -= 1
                statuses.append(self._settled(item, status))
        finally:
            self._items_pending -= len(items) - len(statuses)  # cancelled: the rest are not pending
        return statuses

    def _settled(self, item: RawItem, status: str | None) -> str | None:
        """Count a stored (or refused) item for its source; bookkeeping may run once none is pending."""
        state = self.states[item.source_id]
        if status == STORE_ERROR:
            state.items_unstored += 1
            self._store_failed = True
            status = None
        if self._items_pending <= 0:
            self._run_deferred()
        if status == "new":
            state.items_new += 1
        elif status == "updated":
            state.items_updated += 1
        elif status == "unchanged":
            state.fetch.items_unchanged += 1
        elif status is None:
            state.items_failed += 1
        return status

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue[:INGEST_BATCH], self._queue[INGEST_BATCH:]
            results = await loop.run_in_executor(
                self._writer, self._ingest_batch, [item for item, _ in batch]
            )
            for (_, future), status in zip(batch, results, strict=True):
                future.set_result(status)

    def _ingest_batch(self, items: list[RawItem]) -> list[str | None]:
        what = f"ingest batch of {len(items)} items"
        try:
            return retry_on_disconnect(lambda: self._ingest_once(items), what)
        except SQLAlchemyError:
            logger.exception("%s failed", what)
        return [STORE_ERROR] * len(items)

    def _ingest_once(self, items: list[RawItem]) -> list[str | None]:
        try:
            with self.write_session() as session:
                outcomes = ingest_batch(session, items)  # refused items come back as None
        except IntegrityError:
            # Another crawl process stored the same URL between our lookup and our insert: once
            # more, the lookup now finds it.
            with self.write_session() as session:
                outcomes = ingest_batch(session, items)
        return [outcome.status if outcome else None for outcome in outcomes]

    def submit(self, write: Callable[[Session], None]) -> None:
        """Run ``write`` in its own transaction on the writer thread (spiders' small bookkeeping), once
        every item found before it is stored.

        A sitemap page's lastmod is remembered only after its item is: a crash in between would
        otherwise leave the page marked as fetched and its item never stored (seen in
        tests/test_crash_worker.py). While items keep coming the writes wait, at the latest until
        ``close``; if an item was lost to a store error they are dropped, so the pages are fetched again.
        """
        self._deferred.append(write)
        if self._items_pending <= 0:
            self._run_deferred()

    def _run_deferred(self) -> None:
        writes, self._deferred = self._deferred, []
        if writes and self._store_failed:
            logger.warning("%d bookkeeping writes dropped: items of the run were not stored", len(writes))
            return
        loop = asyncio.get_running_loop()
        for write in writes:
            future = loop.run_in_executor(self._writer, self._run_write, write)
            self._writes.add(future)
            future.add_done_callback(self._writes.discard)

    def _run_write(self, write: Callable[[Session], None]) -> None:
        def attempt() -> None:
            with self.write_session() as session:
                write(session)

        try:
            retry_on_disconnect(attempt, "crawl bookkeeping write")
        except SQLAlchemyError:
            # Bookkeeping only (a sitemap page's lastmod, a WebSub hub): losing it costs a refetch.
            logger.exception("crawl bookkeeping write failed")

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A session for one write transaction.

        Beside other crawl processes on SQLite, the engine begins write transactions with BEGIN
        IMMEDIATE (crawlers/sqlitelock.py, set up once per engine here).
        """
        with self.database.session() as session:
            yield session

    # --- outcomes -------------------------------------------------------------------------------
    def _finalize(self, state: SourceState) -> None:
        if state.recorded:
            return
        state.recorded = True
        state.finished = time.monotonic()
        # Outcomes are written in batches, one transaction each: a re-poll of many unchanged
        # sources would otherwise spend most of its time committing one row at a time.
        self._finished.append(state)
        if self._outcome_flusher is None or self._outcome_flusher.done():
            self._outcome_flusher = asyncio.ensure_future(self._flush_outcomes())
            self._writes.add(self._outcome_flusher)
            self._outcome_flusher.add_done_callback(self._writes.discard)

    async def _flush_outcomes(self) -> None:
        loop = asyncio.get_running_loop()
        while self._finished:
            if len(self._finished) < OUTCOME_BATCH:
                # Let outcomes gather: sources of a re-poll finish a few at a time, and each write is
                # a transaction of its own (a few ms of the writer's time and of the GIL).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), OUTCOME_GATHER_S)
            batch, self._finished = self._finished, []
            await loop.run_in_executor(self._writer, self._write_outcomes_retrying, batch)

    def _write_outcomes_retrying(self, states: list[SourceState]) -> None:
        what = f"outcomes of {len(states)} sources"
        try:
            retry_on_disconnect(lambda: self._write_outcomes(states), what)
        except SQLAlchemyError:
            # Nothing is lost: without an outcome the sources keep their lease and validators, and are
            # crawled again in full when the lease runs out.
            logger.exception("%s not written; they are crawled again when their lease ends", what)

    def _write_outcomes(self, states: list[SourceState]) -> None:
        with self.write_session() as session:
            removed = self._removals(session, states)
            # A few Core statements for the batch (hub/outcomebatch.py), not ORM objects: per outcome the
            # ORM's unit of work cost a re-poll about half of its CPU.
            record_outcomes(session, [self._outcome(state, removed[state.job.id]) for state in states])

    def _removals(self, session: Session, states: list[SourceState]) -> dict[int, int]:
        """Items each source's outcome newly marks removed: pages gone, and items missing from the
        listings (one record_listings for the batch: a few statements, not two queries per source)."""
        # Item queries only: nothing else of the batch is waiting in the session (record_outcomes writes
        # after them). mark_gone flushes its own changes.
        with session.no_autoflush:
            removed = {state.job.id: mark_gone(session, state.job.id, state.gone_urls) for state in states}
            # A failed listing says nothing about what is missing; an unchanged one misses again what
            # the last parsed one missed.
            listings = {state.job.id: state.listed_urls for state in states if _status(state) == "ok"}
            for source_id, count in record_listings(session, listings, self.removed_after_missing).items():
                removed[source_id] += count
            unchanged = [state.job.id for state in states if _status(state) == "not_modified"]
            for source_id, count in record_unchanged_listings(
                session, unchanged, self.removed_after_missing
            ).items():
                removed[source_id] += count
        return removed

    def _outcome(self, state: SourceState, removed: int) -> Outcome:
        """The outcome of a settled source."""
        failure = state.failure
        notes = list(state.notes)
        if state.items_failed:
            notes.append(f"{state.items_failed} item(s) could not be stored")
        message = failure.message if failure else ("; ".join(notes[:5]) or None)
        status = _status(state)
        # Items the store could not take must be fetched again: the source keeps its old validators,
        # so the next crawl gets the whole answer instead of a 304.
        keep_validators = state.items_unstored == 0
        # The same bytes are skipped next time only if nothing of this parse is to be done again: an
        # article that failed or an item not stored clears the hash (the next answer is parsed).
        body_hash = None  # leave the stored one (not modified, failed, or no hash taken)
        if status == "ok" and state.body_hash is not None:
            clean = keep_validators and not state.items_failed and not state.notes
            body_hash = state.body_hash if clean else ""
        return Outcome(
            run_id=self.run_id,
            source_id=state.job.id,
            status=status,
            error_kind=failure.kind if failure else None,
            http_status=failure.http_status if failure and failure.http_status else state.http_status,
            message=message,
            items_seen=state.items_seen,
            items_new=state.items_new,
            items_updated=state.items_updated,
            items_removed=removed,
            duration_ms=int(((state.finished or time.monotonic()) - state.started) * 1000),
            etag=state.etag if keep_validators else None,
            last_modified=state.last_modified if keep_validators else None,
            body_hash=body_hash,
            retry_after_s=failure.retry_after_s if failure else None,
            ttl_s=state.ttl_s,
            max_age_s=state.max_age_s,
            fetch=state.fetch,
        )

    async def close(self, source_ids: Iterable[int], aborted: bool = False) -> None:
        """Write outcomes of ``source_ids`` still open, then wait for every write.

        A source still open when the spider closes normally had requests dropped by Scrapy and is
        recorded as it stands; when the crawl was stopped (``aborted``) it is recorded as failed.
        """
        self._closing.set()
        for source_id in source_ids:
            state = self.states[source_id]
            if aborted and not state.recorded and state.in_flight > 0:
                self.fail(
                    source_id,
                    FailureInfo("aborted", None, "the crawl was stopped before this source finished"),
                )
            self._finalize(state)
        if self._flusher is not None:
            await self._flusher  # items handed over are stored; any still pending were dropped
        self._run_deferred()
        while self._writes or (self._flusher is not None and not self._flusher.done()):
            pending = [*self._writes, *([self._flusher] if self._flusher else [])]
            await asyncio.gather(*pending)

    def shutdown(self) -> None:
        """Stop the writer thread after the last write (unless it belongs to the crawl process)."""
        if self._owns_writer:
            self._writer.shutdown(wait=True)
