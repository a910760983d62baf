"""The outbox drainer: the index follows the moderation state, and an index outage loses nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from elasticsearch import Elasticsearch
from sqlalchemy import select

from hub.db import Database
from hub.models import Item, ItemState, OutboxEntry, OutboxOp, Source, Unit
from index.backend import SearchBackend, SearchDocument, SearchQuery
from index.document import build_document
from index.elastic import ElasticBackend
from index.outbox import drain_outbox, index_status, reindex
from tests.fixtures.search import closed_port

NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def seed_units(db: Database) -> tuple[int, int]:
    """A city with one district; returns (district id, source id)."""
    with db.session() as session:
        city = Unit(slug="city", name="市委", level="city")
        session.add(city)
        session.flush()
        city.path = f"/{city.id}/"
        district = Unit(slug="east", name="东区", level="district", parent_id=city.id)
        session.add(district)
        session.flush()
        district.path = f"/{city.id}/{district.id}/"
        source = Source(unit_id=district.id, name="东区网站", kind="feed", url="http://127.0.0.1/east.xml")
        session.add(source)
        session.flush()
        return district.id, source.id


def add_item(db: Database, unit_id: int, source_id: int, title: str, state: ItemState) -> int:
    """An item in ``state`` with an outbox row as moderation would write it."""
    with db.session() as session:
        url = f"http://127.0.0.1/east/{hashlib.sha1(title.encode()).hexdigest()[:8]}.html"
        item = Item(
            source_id=source_id,
            unit_id=unit_id,
            url=url,
            canonical_url=url,
            title=title,
            text=f"{title}。正文内容。",
            content_hash=hashlib.sha256(title.encode()).hexdigest(),
            state=state.value,
            published_at=NOW - timedelta(days=1),
        )
        session.add(item)
        session.flush()
        if state == ItemState.APPROVED:
            session.add(OutboxEntry(item_id=item.id, op=OutboxOp.UPSERT.value))
        return item.id


def set_state(db: Database, item_id: int, state: ItemState) -> None:
    """A moderation transition: new state, bumped version, outbox row in the same transaction."""
    with db.session() as session:
        item = session.get(Item, item_id)
        assert item is not None
        item.state = state.value
        item.version += 1
        op = OutboxOp.UPSERT if state == ItemState.APPROVED else OutboxOp.DELETE
        session.add(OutboxEntry(item_id=item_id, op=op.value))


def found(backend: SearchBackend, text: str) -> list[int]:
    return [hit.item_id for hit in backend.search(SearchQuery(text=text)).hits]


def unreachable_backend() -> ElasticBackend:
    client = Elasticsearch(f"http://127.0.0.1:{closed_port()}", request_timeout=2, max_retries=0)
    return ElasticBackend(client, prefix="down")


def test_document_carries_unit_ancestors_and_source(database: Database) -> None:
    unit_id, source_id = seed_units(database)
    item_id = add_item(database, unit_id, source_id, "党建工作通知", ItemState.APPROVED)
    with database.session() as session:
        item = session.get(Item, item_id)
        assert item is not None
        doc = build_document(item)
    assert doc.unit_ancestors[-1] == unit_id and len(doc.unit_ancestors) == 2
    assert (doc.unit_name, doc.source_name, doc.unit_level) == ("东区", "东区网站", "district")


def test_pending_never_searchable_approved_indexed_withdrawn_gone(
    database: Database, search_backend: SearchBackend
) -> None:
    unit_id, source_id = seed_units(database)
    pending = add_item(database, unit_id, source_id, "党建待审稿件", ItemState.PENDING)
    # A stray upsert row for a pending item (e.g. approved then sent back) must not index it.
    with database.session() as session:
        session.add(OutboxEntry(item_id=pending, op=OutboxOp.UPSERT.value))
    stats = drain_outbox(database, search_backend, now=NOW)
    assert (stats.applied, stats.failed, stats.remaining) == (1, 0, 0)
    assert found(search_backend, "党建") == []

    set_state(database, pending, ItemState.APPROVED)
    drain_outbox(database, search_backend, now=NOW)
    assert found(search_backend, "党建") == [pending]

    set_state(database, pending, ItemState.WITHDRAWN)
    drain_outbox(database, search_backend, now=NOW)
    assert found(search_backend, "党建") == []
    assert search_backend.count() == 0


def test_rows_of_one_item_collapse_to_its_state_now(
    database: Database, search_backend: SearchBackend
) -> None:
    unit_id, source_id = seed_units(database)
    item_id = add_item(database, unit_id, source_id, "社区活动通知", ItemState.APPROVED)
    set_state(database, item_id, ItemState.WITHDRAWN)
    set_state(database, item_id, ItemState.APPROVED)
    stats = drain_outbox(database, search_backend, batch=2, now=NOW)
    assert stats.applied == 3 and stats.remaining == 0
    assert found(search_backend, "社区") == [item_id]


def test_outage_keeps_rows_then_a_later_drain_loses_nothing(
    database: Database, search_backend: SearchBackend
) -> None:
    unit_id, source_id = seed_units(database)
    first = add_item(database, unit_id, source_id, "党建学习会", ItemState.APPROVED)
    second = add_item(database, unit_id, source_id, "党建交流会", ItemState.APPROVED)

    down = unreachable_backend()
    stats = drain_outbox(database, down, now=NOW)
    down.close()
    assert (stats.applied, stats.failed, stats.remaining) == (0, 2, 2)
    with database.session() as session:
        rows = list(session.scalars(select(OutboxEntry)))
    assert all(row.attempts == 1 and row.last_error for row in rows)
    assert all(row.next_attempt_at is not None and row.next_attempt_at > NOW for row in rows)
    status = index_status(database, now=NOW + timedelta(minutes=1))
    assert (status.pending, status.failing) == (2, 2)

    # Not due yet: a drain right away leaves the rows alone.
    assert drain_outbox(database, search_backend, now=NOW).applied == 0
    later = drain_outbox(database, search_backend, now=NOW + timedelta(hours=2))
    assert (later.applied, later.failed, later.remaining) == (2, 0, 0)
    assert set(found(search_backend, "党建")) == {first, second}
    assert index_status(database).pending == 0


def test_reindex_rebuilds_from_approved_items_only(database: Database, search_backend: SearchBackend) -> None:
    unit_id, source_id = seed_units(database)
    approved = add_item(database, unit_id, source_id, "规划公示一", ItemState.APPROVED)
    add_item(database, unit_id, source_id, "规划公示二", ItemState.PENDING)
    rejected = add_item(database, unit_id, source_id, "规划公示三", ItemState.PENDING)
    set_state(database, rejected, ItemState.REJECTED)
    search_backend.upsert([build_stale_document(database, rejected)])  # a leftover in the index

    result = reindex(database, search_backend)
    assert result.indexed == 1
    assert found(search_backend, "规划") == [approved]
    assert search_backend.count() == 1


def build_stale_document(db: Database, item_id: int) -> SearchDocument:
    with db.session() as session:
        item = session.get(Item, item_id)
        assert item is not None
        return build_document(item)
