"""Reindex under concurrent searching loses no query and no document (issue 5, "done when"), on every backend.

A rebuild is held half-way through its documents (the iterable it consumes waits on threading.Events)
while another thread keeps searching, so the searches provably run during the rebuild, not merely
"probably": the old index must answer them, every one, and the new one everything after the swap. With
the database, items change (an approval, a withdrawal, an edit, new items) while the rebuild is held; the
reindex catches up on them before the swap, so the first searches after it already show every change,
before any drain, and the index holds exactly the items of the database.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy import delete, func, select

from hub.db import Database
from hub.models import Item, ItemState, OutboxEntry, OutboxOp, Source, Unit
from index.backend import CatchUpSource, SearchBackend, SearchBackendError, SearchDocument, SearchQuery
from index.drainlock import drain_lock
from index.outbox import LOCK_POLL_S, drain_outbox, reindex
from tests.fixtures.search import make_document

WAIT_S = 60.0  # a guard against a deadlock, never a measure of speed: every wait is for an Event
STALE_IDS = frozenset(range(100_001, 100_031))  # in the index before the rebuild, not in the new corpus
WORD = "通知"  # every stale and every new document says it; nothing written during the rebuild does
PAUSE_AFTER = 20  # documents the rebuild reads before it is held


def stale_documents() -> list[SearchDocument]:
    return [make_document(item_id, title=f"旧版通知 第{item_id}号") for item_id in sorted(STALE_IDS)]


class HeldRebuild:
    """The backend under test, whose ``rebuild`` is held after ``PAUSE_AFTER`` documents while
    ``during`` runs (in the rebuilding thread). Everything else goes straight to the backend."""

    def __init__(self, backend: SearchBackend, during: Callable[[], None]) -> None:
        self.backend = backend
        self.during = during
        self.held = False

    def ensure_ready(self) -> None:
        self.backend.ensure_ready()

    def rebuild(self, documents: Iterable[SearchDocument], catch_up: CatchUpSource | None = None) -> int:
        return self.backend.rebuild(self._held(documents), catch_up)

    def _held(self, documents: Iterable[SearchDocument]) -> Iterator[SearchDocument]:
        for count, document in enumerate(documents):
            if count == PAUSE_AFTER:
                self.held = True
                self.during()
            yield document


@dataclass
class Searcher:
    """A thread searching WORD over and over until told to stop, recording what each search saw."""

    backend: SearchBackend
    rebuilding: threading.Event = field(default_factory=threading.Event)  # the rebuild is held
    swapped: threading.Event = field(default_factory=threading.Event)  # the rebuild has returned
    searched_while_held: threading.Event = field(default_factory=threading.Event)
    searched_after_swap: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    seen: list[tuple[int, frozenset[int]]] = field(default_factory=list)  # (total, ids) of every search
    seen_while_held: list[frozenset[int]] = field(default_factory=list)
    seen_after_swap: list[frozenset[int]] = field(default_factory=list)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                # Read the phase before searching: a search started after the swap must see the new index,
                # one started while the rebuild is held (before searched_while_held) the old one.
                held = self.rebuilding.is_set() and not self.searched_while_held.is_set()
                after = self.swapped.is_set()
                result = self.backend.search(SearchQuery(text=WORD, limit=200))
                self.backend.search(SearchQuery(limit=5, facets=True))  # browsing answers too
                found = frozenset(hit.item_id for hit in result.hits)
                self.seen.append((result.total, found))
                if held:
                    self.seen_while_held.append(found)
                    if len(self.seen_while_held) >= 3:
                        self.searched_while_held.set()
                if after:
                    self.seen_after_swap.append(found)
                    if len(self.seen_after_swap) >= 2:
                        self.searched_after_swap.set()
        finally:  # a failed search ends the thread (its future raises it): release whoever waits for it
            self.searched_while_held.set()
            self.searched_after_swap.set()

    def check(self, old: frozenset[int], new: frozenset[int]) -> None:
        """Each search saw the old set or the new one, whole; held ones the old, later ones the new."""
        assert len(self.seen_while_held) >= 3 and len(self.seen_after_swap) >= 2
        for total, found in self.seen:
            assert found in (old, new) and total == len(found), (total, sorted(found))
        assert all(found == old for found in self.seen_while_held)
        assert all(found == new for found in self.seen_after_swap)


def wait(event: threading.Event, what: str) -> None:
    assert event.wait(WAIT_S), f"{what} did not happen in {WAIT_S:.0f} s"


def run_searching(searcher: Searcher, body: Callable[[], None]) -> None:
    """Run ``body`` (which rebuilds) while ``searcher`` searches in a thread; stop it after the swap.
    A search that raised is raised here."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="searcher") as pool:
        searching = pool.submit(searcher.run)
        try:
            body()
            searcher.swapped.set()
            wait(searcher.searched_after_swap, "a search after the swap")
        finally:
            searcher.stop.set()
        searching.result(timeout=WAIT_S)


def test_rebuild_under_concurrent_searching_loses_no_query(search_backend: SearchBackend) -> None:
    search_backend.upsert(stale_documents())
    new = [make_document(n, title=f"新版通知 第{n}号") for n in range(1, 51)]
    searcher = Searcher(search_backend)

    def while_held() -> None:
        searcher.rebuilding.set()
        wait(searcher.searched_while_held, "three searches")

    held = HeldRebuild(search_backend, while_held)

    def rebuild() -> None:
        assert held.rebuild(new) == len(new)

    run_searching(searcher, rebuild)
    assert held.held
    new_ids = frozenset(range(1, 51))
    searcher.check(STALE_IDS, new_ids)
    assert search_backend.count() == len(new)
    everything = search_backend.search(SearchQuery(states=None, collapse_reposts=False, limit=200))
    assert {hit.item_id for hit in everything.hits} == new_ids and everything.total == len(new)


# -- Through the database and the outbox ---------------------------------------------------------------


def seed_unit(db: Database) -> tuple[int, int]:
    """A city with one district and its website; returns (district id, source id)."""
    with db.session() as session:
        city = Unit(slug="city", name="市委", level="city", region_code="3301")
        session.add(city)
        session.flush()
        city.path = f"/{city.id}/"
        district = Unit(slug="east", name="东区", level="district", parent_id=city.id, region_code="330102")
        session.add(district)
        session.flush()
        district.path = f"/{city.id}/{district.id}/"
        source = Source(unit_id=district.id, name="东区网站", kind="feed", url="http://127.0.0.1/east.xml")
        session.add(source)
        session.flush()
        return district.id, source.id


def add_items(db: Database, unit_id: int, source_id: int, titles: list[str], state: ItemState) -> list[int]:
    """Items in ``state``, each with the outbox row the change that made it would have written."""
    with db.session() as session:
        items = []
        for title in titles:
            url = f"http://127.0.0.1/east/{hashlib.sha1(title.encode()).hexdigest()[:12]}.html"
            items.append(
                Item(
                    source_id=source_id,
                    unit_id=unit_id,
                    url=url,
                    canonical_url=url,
                    title=title,
                    text=f"{title}。正文。",
                    content_hash=hashlib.sha256(title.encode()).hexdigest(),
                    state=state.value,
                    published_at=datetime(2024, 5, 1, tzinfo=UTC),
                )
            )
        session.add_all(items)
        session.flush()
        session.add_all(OutboxEntry(item_id=item.id, op=OutboxOp.UPSERT.value) for item in items)
        return [item.id for item in items]


def change_item(
    db: Database,
    item_id: int,
    *,
    title: str | None = None,
    state: ItemState | None = None,
    row_id: int | None = None,
) -> None:
    """Edit or decide an item as ingest and moderation do: a new version and an outbox row (``row_id``:
    the id a PostgreSQL sequence gave it, for a transaction that commits after one with a higher id)."""
    with db.session() as session:
        item = session.get_one(Item, item_id)
        if title is not None:
            item.title = title
        if state is not None:
            item.state = state.value
        item.version += 1
        session.add(OutboxEntry(id=row_id, item_id=item_id, op=OutboxOp.UPSERT.value))


@dataclass
class Corpus:
    """The store of a reindex test: the index is out of date (it holds the stale documents only)."""

    notices: list[int]  # approved, each says WORD
    bulletins: list[int]  # approved
    waiting: int  # pending

    @classmethod
    def seed(cls, db: Database, backend: SearchBackend) -> Corpus:
        unit_id, source_id = seed_unit(db)
        notices = add_items(
            db, unit_id, source_id, [f"新版通知 第{n}号" for n in range(40)], ItemState.APPROVED
        )
        bulletins = add_items(db, unit_id, source_id, [f"公告 第{n}号" for n in range(5)], ItemState.APPROVED)
        [waiting] = add_items(db, unit_id, source_id, ["待审公告"], ItemState.PENDING)
        with db.session() as session:
            session.execute(delete(OutboxEntry))
        backend.upsert(stale_documents())
        return cls(notices, bulletins, waiting)

    def change(self, db: Database, withdrawal_row: int | None = None) -> None:
        """An approval, a withdrawal and an edit, as moderation and ingest make them."""
        change_item(db, self.waiting, state=ItemState.APPROVED)
        change_item(db, self.notices[7], state=ItemState.WITHDRAWN, row_id=withdrawal_row)
        change_item(db, self.bulletins[2], title="公告 第2号（修订）")

    def check_index(self, db: Database, backend: SearchBackend, added: list[int]) -> None:
        """The index holds every item of the store, as it is now: the changes made during the rebuild
        show, and no document is lost."""
        with db.session() as session:
            in_store = set(session.scalars(select(Item.id)))
        assert in_store == {*self.notices, *self.bulletins, self.waiting, *added}
        everything = backend.search(SearchQuery(states=None, collapse_reposts=False, limit=200))
        assert {hit.item_id for hit in everything.hits} == in_store and everything.total == len(in_store)
        assert backend.count() == len(in_store)
        public = backend.search(SearchQuery(limit=200))
        assert {hit.item_id for hit in public.hits} == in_store - {self.notices[7]}  # approved, not withdrawn
        withdrawn = backend.search(SearchQuery(states=("withdrawn",), limit=10))
        assert [hit.item_id for hit in withdrawn.hits] == [self.notices[7]]
        assert [hit.item_id for hit in backend.search(SearchQuery(text="修订")).hits] == [self.bulletins[2]]
        assert sorted(hit.item_id for hit in backend.search(SearchQuery(text="增补", limit=50)).hits) == added

    def public_notices(self) -> frozenset[int]:
        return frozenset(self.notices) - {self.notices[7]}


def test_reindex_under_concurrent_searching_and_upserts_loses_no_query_and_no_document(
    database: Database, search_backend: SearchBackend
) -> None:
    corpus = Corpus.seed(database, search_backend)
    unit_id, source_id = corpus_source(database)
    searcher = Searcher(search_backend)
    added: list[int] = []
    written = threading.Event()

    def write_and_drain() -> None:
        # While the rebuild is held: new items, an approval, a withdrawal and an edit, and a drain. The
        # reindex holds the drain lock, so the drain does nothing (a drain into the old index would delete
        # the rows the catch-up needs): the catch-up must bring them into the new index.
        try:
            titles = [f"增补公告 {n}" for n in range(3)]
            added.extend(add_items(database, unit_id, source_id, titles, ItemState.APPROVED))
            corpus.change(database)
            stats = drain_outbox(database, search_backend)
            assert stats.busy and stats.applied == 0, stats
        finally:  # an error is raised by the writer's future
            written.set()

    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer")
    writing: list[Future[None]] = []

    def while_held() -> None:
        searcher.rebuilding.set()
        writing.append(writer.submit(write_and_drain))
        wait(searcher.searched_while_held, "three searches")
        wait(written, "the writes and their drain")

    held = HeldRebuild(search_backend, while_held)

    def reindex_only() -> None:  # no drain: what the searches see after the swap is the rebuild's doing
        reindex(database, cast(SearchBackend, held))

    with writer:
        run_searching(searcher, reindex_only)
    assert held.held
    writing[0].result()
    # The first searches after the swap (in the searching thread, then these) already show the changes.
    searcher.check(STALE_IDS, corpus.public_notices())
    corpus.check_index(database, search_backend, added)
    drain_outbox(database, search_backend)  # the rows kept change nothing
    corpus.check_index(database, search_backend, added)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 0


def test_reindex_catches_up_by_outbox_rows_whatever_the_writers_clocks_say(
    database: Database, search_backend: SearchBackend
) -> None:
    """Writers whose clocks lag an hour behind the reindexer's (or whose transactions stamped updated_at
    before the reindex began): their outbox rows, not their timestamps, bring the changes in, including
    a row whose id is below rows already there when the reindex began (committed out of id order)."""
    corpus = Corpus.seed(database, search_backend)
    unit_id, source_id = corpus_source(database)
    with database.session() as session:  # a backlog when the reindex begins: rows 1000 and 1002
        for row_id, item_id in ((1000, corpus.notices[3]), (1002, corpus.notices[4])):
            session.add(OutboxEntry(id=row_id, item_id=item_id, op=OutboxOp.UPSERT.value))
    added: list[int] = []

    def change_while_held() -> None:
        added.extend(add_items(database, unit_id, source_id, ["增补公告 甲"], ItemState.APPROVED))
        corpus.change(database, withdrawal_row=1001)

    held = HeldRebuild(search_backend, change_while_held)
    result = reindex(database, cast(SearchBackend, held))
    assert held.held
    assert result.indexed == len(corpus.notices) + len(corpus.bulletins) + 1 + len(added)
    corpus.check_index(database, search_backend, added)
    with database.session() as session:  # kept for the live drain
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 2 + 4


def corpus_source(db: Database) -> tuple[int, int]:
    """The (unit id, source id) that ``Corpus.seed`` made."""
    with db.session() as session:
        source = session.scalars(select(Source)).one()
        return source.unit_id, source.id


def test_reindex_waits_for_a_running_drain_and_gives_up_after_its_wait(
    database: Database, search_backend: SearchBackend
) -> None:
    """A reindex started while a drain runs waits for it (polling the drain lock), then runs; if the drain
    outlasts ``lock_wait_s`` it stops with a clear error and changes nothing."""
    corpus = Corpus.seed(database, search_backend)
    slept: list[float] = []
    with drain_lock(database) as held:
        assert held
        with pytest.raises(SearchBackendError, match="drain has been running for 2 s"):
            reindex(database, search_backend, lock_wait_s=2.0, sleep=slept.append)
    assert slept == [LOCK_POLL_S] * 4
    lock = drain_lock(database)
    lock.__enter__()

    def drain_ends(seconds: float) -> None:  # the running drain finishes during the first wait
        slept.append(seconds)
        lock.__exit__(None, None, None)

    slept.clear()
    result = reindex(database, search_backend, sleep=drain_ends)
    assert slept == [LOCK_POLL_S]
    assert result.indexed == len(corpus.notices) + len(corpus.bulletins) + 1  # the waiting item too
