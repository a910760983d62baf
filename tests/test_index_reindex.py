"""Reindex under concurrent searching loses no query and no document (issue 5, "done when"), on every backend.

A rebuild is held half-way through its documents (the iterable it consumes waits on threading.Events)
while another thread keeps searching, so the searches provably run during the rebuild, not merely
"probably": the old index must answer them, every one, and the new one everything after the swap. With
the database, items change and the outbox drains while the rebuild is held; the reindex queues those
items again, so after one more drain the index holds exactly the items of the database.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import delete, select

from hub.db import Database
from hub.models import Item, ItemState, OutboxEntry, OutboxOp, Source, Unit
from index.backend import SearchBackend, SearchDocument, SearchQuery
from index.outbox import drain_outbox, reindex
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

    def rebuild(self, documents: Iterable[SearchDocument]) -> int:
        return self.backend.rebuild(self._held(documents))

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
    db: Database, item_id: int, *, title: str | None = None, state: ItemState | None = None
) -> None:
    """Edit or decide an item as ingest and moderation do: a new version and an outbox row."""
    with db.session() as session:
        item = session.get_one(Item, item_id)
        if title is not None:
            item.title = title
        if state is not None:
            item.state = state.value
        item.version += 1
        session.add(OutboxEntry(item_id=item_id, op=OutboxOp.UPSERT.value))


def test_reindex_under_concurrent_searching_and_upserts_loses_no_query_and_no_document(
    database: Database, search_backend: SearchBackend
) -> None:
    unit_id, source_id = seed_unit(database)
    notices = add_items(
        database, unit_id, source_id, [f"新版通知 第{n}号" for n in range(40)], ItemState.APPROVED
    )
    bulletins = add_items(
        database, unit_id, source_id, [f"公告 第{n}号" for n in range(5)], ItemState.APPROVED
    )
    [waiting] = add_items(database, unit_id, source_id, ["待审公告"], ItemState.PENDING)
    with database.session() as session:  # the index is out of date: it holds stale documents only
        session.execute(delete(OutboxEntry))
    search_backend.upsert(stale_documents())
    searcher = Searcher(search_backend)
    added: list[int] = []
    written = threading.Event()

    def write_and_drain() -> None:
        # While the rebuild is held: new items, a decision and an edit, drained towards the live index. A
        # backend may refuse writes while it rebuilds (the embedded one waits for its write lock, then
        # fails): the outbox keeps such rows and the reindex queues the changed items again either way.
        try:
            titles = [f"增补公告 {n}" for n in range(3)]
            added.extend(add_items(database, unit_id, source_id, titles, ItemState.APPROVED))
            change_item(database, waiting, state=ItemState.APPROVED)
            change_item(database, bulletins[2], title="公告 第2号（修订）")
            drain_outbox(database, search_backend)
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

    def reindex_and_drain() -> None:
        result = reindex(database, cast(SearchBackend, held))
        assert result.requeued == len(added) + 2  # the items changed meanwhile are queued again

    with writer:
        run_searching(searcher, reindex_and_drain)
    assert held.held
    writing[0].result()
    searcher.check(STALE_IDS, frozenset(notices))
    drain_outbox(database, search_backend)

    with database.session() as session:
        in_store = set(session.scalars(select(Item.id)))
    assert in_store == set(notices) | set(bulletins) | {waiting} | set(added)
    everything = search_backend.search(SearchQuery(states=None, collapse_reposts=False, limit=200))
    assert {hit.item_id for hit in everything.hits} == in_store and everything.total == len(in_store)
    public = search_backend.search(SearchQuery(limit=200))
    assert {hit.item_id for hit in public.hits} == in_store  # the decision made meanwhile counts
    assert search_backend.count() == len(in_store)
    assert [hit.item_id for hit in search_backend.search(SearchQuery(text="修订")).hits] == [bulletins[2]]
    assert (
        sorted(hit.item_id for hit in search_backend.search(SearchQuery(text="增补", limit=50)).hits) == added
    )
