"""The outbox: every change queues its item in the same transaction, the drainer indexes every item in
its state (the public sees only approved ones), reposts follow their original, and a failure loses
nothing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from elasticsearch import Elasticsearch
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import build_app
from hub.db import Database
from hub.ingest import ingest
from hub.ingestbatch import ingest_batch
from hub.models import Item, ItemState, OutboxEntry, OutboxOp, Source, Unit
from hub.rawitem import RawItem
from index.backend import BulkResult, SearchBackend, SearchDocument, SearchQuery
from index.document import build_document, documents_for
from index.drainlock import drain_lock
from index.elastic import ElasticBackend
from index.outbox import drain_outbox, index_status, reindex
from moderation.service import transition
from tests.fixtures.search import closed_port
from tests.test_reposts import NOTICE, repost_text

NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
EVERY_STATE: tuple[str, ...] | None = None  # SearchQuery.states for staff: no state filter


def seed_units(db: Database) -> tuple[int, int, int]:
    """City (region 310000) → district (310101) → branch (no region code), one source on the branch
    and one on the district; returns (branch id, branch source id, district source id)."""
    with db.session() as session:
        city = Unit(slug="city", name="市委", level="city", region_code="310000")
        session.add(city)
        session.flush()
        city.path = f"/{city.id}/"
        district = Unit(slug="east", name="东区", level="district", parent_id=city.id, region_code="310101")
        session.add(district)
        session.flush()
        district.path = f"/{city.id}/{district.id}/"
        branch = Unit(slug="east-b1", name="东区一支部", level="branch", parent_id=district.id)
        session.add(branch)
        session.flush()
        branch.path = f"{district.path}{branch.id}/"
        branch_source = Source(
            unit_id=branch.id, name="一支部网站", kind="feed", url="http://127.0.0.1/b1.xml"
        )
        district_source = Source(
            unit_id=district.id, name="东区网站", kind="feed", url="http://127.0.0.1/e.xml"
        )
        session.add_all([branch_source, district_source])
        session.flush()
        return branch.id, branch_source.id, district_source.id


def add_item(
    db: Database,
    unit_id: int,
    source_id: int,
    title: str,
    state: ItemState,
    repost_of: int | None = None,
    published_at: datetime | None = NOW - timedelta(days=1),
) -> int:
    """An item in ``state`` with the outbox row its last change wrote."""
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
            published_at=published_at,
            first_seen_at=NOW - timedelta(days=1),
            repost_of_id=repost_of,
        )
        session.add(item)
        session.flush()
        session.add(OutboxEntry(item_id=item.id, op=OutboxOp.UPSERT.value))
        return item.id


def set_state(db: Database, item_id: int, state: ItemState) -> None:
    """A state change as moderation makes it: new state, bumped version, outbox row, one transaction."""
    with db.session() as session:
        item = session.get(Item, item_id)
        assert item is not None
        item.state = state.value
        item.version += 1
        session.add(OutboxEntry(item_id=item_id, op=OutboxOp.UPSERT.value))


def found(backend: SearchBackend, text: str, states: tuple[str, ...] | None = ("approved",)) -> list[int]:
    return sorted(hit.item_id for hit in backend.search(SearchQuery(text=text, states=states)).hits)


def rows_per_item(session: Session) -> dict[int, int]:
    query = select(OutboxEntry.item_id, func.count()).group_by(OutboxEntry.item_id)
    return {item_id: count for item_id, count in session.execute(query)}


def unreachable_backend() -> ElasticBackend:
    client = Elasticsearch(f"http://127.0.0.1:{closed_port()}", request_timeout=2, max_retries=0)
    return ElasticBackend(client, prefix="down")


class RefusingBackend:
    """A real backend that refuses chosen items, as a cluster rejects single documents of a bulk."""

    def __init__(self, backend: SearchBackend, refused: set[int]) -> None:
        self.backend, self.refused = backend, refused

    def bulk(self, documents: list[SearchDocument], deletes: list[int]) -> BulkResult:
        result = self.backend.bulk(
            [d for d in documents if d.item_id not in self.refused],
            [i for i in deletes if i not in self.refused],
        )
        refused = {d.item_id for d in documents} | set(deletes)
        failed = {i: "mapper_parsing_exception: refused" for i in sorted(refused & self.refused)}
        return BulkResult(written=result.written, failed={**result.failed, **failed})


def refusing(backend: SearchBackend, refused: set[int]) -> SearchBackend:
    """``backend`` with bulk writes refusing ``refused`` (everything else is never called)."""
    return cast(SearchBackend, RefusingBackend(backend, refused))


def test_document_fields_follow_the_unit_tree_the_original_and_the_zone(database: Database) -> None:
    branch, branch_source, district_source = seed_units(database)
    with database.session() as session:
        district = session.scalars(select(Unit.id).where(Unit.slug == "east")).one()
    late_evening = datetime(2024, 5, 31, 17, 30, tzinfo=UTC)  # 1 June 01:30 in Shanghai
    original = add_item(database, district, district_source, "防汛工作通知", ItemState.PENDING)
    repost = add_item(
        database, branch, branch_source, "转载防汛工作通知", ItemState.APPROVED, original, late_evening
    )
    with database.session() as session:
        docs = documents_for(session, [original, repost, 9999], "Asia/Shanghai")
        utc_doc = documents_for(session, [repost], "UTC")[repost]
    assert set(docs) == {original, repost}  # an id that does not exist has no document
    doc = docs[repost]
    assert doc.unit_ancestors[-1] == branch and len(doc.unit_ancestors) == 3
    assert doc.region_path == ["310000", "310101"]  # root first; the branch has no code of its own
    assert docs[original].region_path == ["310000", "310101"]
    assert (doc.month, utc_doc.month) == ("2024-06", "2024-05")
    assert (doc.state, docs[original].state) == ("approved", "pending")
    assert doc.collapse_into is None  # its original is not public: it stands on its own

    set_state(database, original, ItemState.APPROVED)
    with database.session() as session:
        item = session.get(Item, repost)
        assert item is not None
        assert build_document(session, item, "Asia/Shanghai").collapse_into == original


def test_ingest_and_every_decision_queue_the_item(database: Database) -> None:
    _, source_id, _ = seed_units(database)

    def raw(n: int, body: str = "社区志愿者开展环境清洁活动，居民积极参与，共清理卫生死角多处。") -> RawItem:
        return RawItem(source_id=source_id, url=f"http://127.0.0.1/b1/{n}.html", title=f"动态{n}", html=body)

    with database.session() as session:
        single = ingest(session, raw(1), NOW).item_id
        batch = [o.item_id for o in ingest_batch(session, [raw(2), raw(3), raw(4)], NOW) if o is not None]
        assert rows_per_item(session) == {single: 1, **dict.fromkeys(batch, 1)}  # pending: staff search it
    second, third, fourth = batch
    with database.session() as session:
        transition(session, single, "approve", "alice", now=NOW)
        transition(session, second, "reject", "alice", reason="重复", now=NOW)
        transition(session, third, "needs_changes", "alice", reason="请补充", now=NOW)
        transition(session, single, "withdraw", "alice", reason="过时", now=NOW)
    with database.session() as session:
        ingest(session, raw(3, "补充后的正文：社区志愿者开展环境清洁活动，共清理卫生死角多处。"), NOW)
        assert rows_per_item(session) == {single: 3, second: 2, third: 3, fourth: 1}


def test_every_state_is_indexed_and_the_public_sees_only_approved(
    database: Database, search_backend: SearchBackend
) -> None:
    unit_id, source_id, _ = seed_units(database)
    ids = {
        state: add_item(database, unit_id, source_id, f"党建稿件{state.value}", ItemState.PENDING)
        for state in ItemState
    }
    for state, item_id in ids.items():
        if state is not ItemState.PENDING:
            set_state(database, item_id, state)
    stats = drain_outbox(database, search_backend, now=NOW)
    assert (stats.applied, stats.failed, stats.remaining, stats.written) == (9, 0, 0, 5)
    assert search_backend.count() == 5
    assert found(search_backend, "党建") == [ids[ItemState.APPROVED]]  # pending never searchable
    assert found(search_backend, "党建", EVERY_STATE) == sorted(ids.values())
    staff = search_backend.search(SearchQuery(text="党建", states=EVERY_STATE, limit=10))
    assert {hit.item_id: hit.state for hit in staff.hits} == {i: s.value for s, i in ids.items()}


def test_rows_of_one_item_collapse_to_its_state_now(
    database: Database, search_backend: SearchBackend
) -> None:
    unit_id, source_id, _ = seed_units(database)
    item_id = add_item(database, unit_id, source_id, "社区活动通知", ItemState.APPROVED)
    set_state(database, item_id, ItemState.WITHDRAWN)
    set_state(database, item_id, ItemState.APPROVED)
    stats = drain_outbox(database, search_backend, batch=2, now=NOW)
    assert stats.applied == 3 and stats.remaining == 0
    assert found(search_backend, "社区") == [item_id]
    set_state(database, item_id, ItemState.WITHDRAWN)
    drain_outbox(database, search_backend, now=NOW)
    assert found(search_backend, "社区") == []
    assert found(search_backend, "社区", EVERY_STATE) == [item_id]  # withdrawn stays for staff


def test_only_an_item_gone_from_the_store_is_deleted(
    database: Database, search_backend: SearchBackend
) -> None:
    unit_id, source_id, _ = seed_units(database)
    kept = add_item(database, unit_id, source_id, "规划公示一", ItemState.REJECTED)
    gone = add_item(database, unit_id, source_id, "规划公示二", ItemState.APPROVED)
    drain_outbox(database, search_backend, now=NOW)
    assert search_backend.count() == 2
    with database.session() as session:
        session.delete(session.get(Item, gone))
        session.add(OutboxEntry(item_id=gone, op=OutboxOp.DELETE.value))
    stats = drain_outbox(database, search_backend, now=NOW)
    assert (stats.applied, stats.deleted) == (1, 1)
    assert found(search_backend, "规划", EVERY_STATE) == [kept]


def test_reposts_are_indexed_again_when_their_original_changes_state(
    database: Database, search_backend: SearchBackend
) -> None:
    branch, branch_source, district_source = seed_units(database)
    with database.session() as session:
        district = session.scalars(select(Unit.id).where(Unit.slug == "east")).one()
    original = add_item(database, district, district_source, "防汛工作通知", ItemState.PENDING)
    repost = add_item(database, branch, branch_source, "防汛工作通知转载", ItemState.APPROVED, original)
    drain_outbox(database, search_backend, now=NOW)
    alone = search_backend.search(SearchQuery(text="防汛"))
    assert [(h.item_id, h.repost_count) for h in alone.hits] == [(repost, 0)]  # its original is pending

    set_state(database, original, ItemState.APPROVED)  # a row for the original only
    stats = drain_outbox(database, search_backend, now=NOW)
    assert (stats.applied, stats.written) == (1, 2)  # the repost came along in the same bulk
    collapsed = search_backend.search(SearchQuery(text="防汛"))
    assert [(h.item_id, h.repost_count) for h in collapsed.hits] == [(original, 1)]
    assert collapsed.total == 1

    set_state(database, original, ItemState.WITHDRAWN)
    drain_outbox(database, search_backend, now=NOW)
    assert [h.item_id for h in search_backend.search(SearchQuery(text="防汛")).hits] == [repost]


def test_outage_keeps_rows_then_a_later_drain_loses_nothing(
    database: Database, search_backend: SearchBackend
) -> None:
    unit_id, source_id, _ = seed_units(database)
    first = add_item(database, unit_id, source_id, "党建学习会", ItemState.APPROVED)
    second = add_item(database, unit_id, source_id, "党建交流会", ItemState.PENDING)

    down = unreachable_backend()
    stats = drain_outbox(database, down, now=NOW)
    down.close()
    assert (stats.applied, stats.failed, stats.remaining) == (0, 2, 2)
    with database.session() as session:
        rows = list(session.scalars(select(OutboxEntry)))
    assert all(row.attempts == 1 and row.last_error and row.failed_at == NOW for row in rows)
    assert all(row.next_attempt_at is not None and row.next_attempt_at > NOW for row in rows)
    status = index_status(database, now=NOW + timedelta(minutes=1), max_attempts=1)
    assert (status.pending, status.failing, status.stuck, status.oldest_age_s is not None) == (2, 2, 2, True)
    assert {f.item_id for f in status.latest_failures} == {first, second}
    assert "unavailable" in status.latest_failures[0].error

    # Not due yet: a drain right away leaves the rows alone.
    assert drain_outbox(database, search_backend, now=NOW).applied == 0
    later = drain_outbox(database, search_backend, now=NOW + timedelta(hours=2))
    assert (later.applied, later.failed, later.remaining) == (2, 0, 0)
    assert found(search_backend, "党建", EVERY_STATE) == sorted([first, second])
    assert index_status(database).pending == 0


def test_a_refused_item_keeps_its_rows_and_the_others_are_applied(
    database: Database, search_backend: SearchBackend
) -> None:
    unit_id, source_id, _ = seed_units(database)
    original = add_item(database, unit_id, source_id, "征兵公告", ItemState.APPROVED)
    refused = add_item(database, unit_id, source_id, "征兵公告补充", ItemState.APPROVED, original)
    other = add_item(database, unit_id, source_id, "征兵体检安排", ItemState.APPROVED)
    drain_outbox(database, search_backend, now=NOW)
    set_state(database, original, ItemState.WITHDRAWN)
    set_state(database, other, ItemState.WITHDRAWN)

    stats = drain_outbox(database, refusing(search_backend, {refused, other}), now=NOW)
    # The original applied; its repost (no row of its own) got one; the other item kept its row.
    assert (stats.applied, stats.failed, stats.remaining) == (1, 2, 2)
    with database.session() as session:
        rows = {row.item_id: row for row in session.scalars(select(OutboxEntry))}
    assert set(rows) == {refused, other}
    assert all(r.attempts == 1 and "refused" in (r.last_error or "") for r in rows.values())
    assert found(search_backend, "征兵") == [other]  # not updated yet; the repost still collapses

    stats = drain_outbox(database, search_backend, now=NOW + timedelta(hours=1))
    assert (stats.applied, stats.failed, stats.remaining) == (2, 0, 0)
    assert found(search_backend, "征兵") == [refused]  # the repost stands alone now


def test_reindex_rebuilds_every_item_in_its_state(database: Database, search_backend: SearchBackend) -> None:
    unit_id, source_id, _ = seed_units(database)
    approved = add_item(database, unit_id, source_id, "规划公示一", ItemState.APPROVED)
    pending = add_item(database, unit_id, source_id, "规划公示二", ItemState.PENDING)
    rejected = add_item(database, unit_id, source_id, "规划公示三", ItemState.PENDING)
    set_state(database, rejected, ItemState.REJECTED)
    with database.session() as session:
        doc = documents_for(session, [approved], "Asia/Shanghai")[approved]
    search_backend.bulk([replace(doc, item_id=999, title="规划公示旧")], [])  # an item not in the store

    result = reindex(database, search_backend)
    assert result.indexed == 3
    assert found(search_backend, "规划") == [approved]
    assert found(search_backend, "规划", EVERY_STATE) == sorted([approved, pending, rejected])
    assert search_backend.count() == 3


def test_repost_linking_queues_the_items_it_points_elsewhere(database: Database) -> None:
    branch, branch_source, district_source = seed_units(database)

    def raw(source_id: int, text: str, day: int, slug: str) -> RawItem:
        return RawItem(
            source_id=source_id,
            url=f"http://127.0.0.1/{slug}/1.html",
            title="关于做好2024年防汛工作的通知",
            text=text,
            html="".join(f"<p>{line}</p>" for line in text.splitlines()),
            published_at=datetime(2024, 5, day, 2, 0, tzinfo=UTC),
        )

    with database.session() as session:
        third = Source(unit_id=branch, name="一支部公众号", kind="feed", url="http://127.0.0.1/b1-wx.xml")
        session.add(third)
        session.flush()
        first = ingest(session, raw(branch_source, repost_text(0), 8, "b1")).item_id
        copy = ingest(session, raw(third.id, repost_text(1), 9, "wx")).item_id
        assert session.get(Item, copy).repost_of_id == first  # type: ignore[union-attr]
        session.execute(delete(OutboxEntry))
        # The district's original, published earlier, arrives last: both copies now point at it.
        original = ingest(session, raw(district_source, NOTICE, 6, "east")).item_id
        assert rows_per_item(session) == {original: 1, first: 1, copy: 1}
        assert session.get(Item, copy).repost_of_id == original  # type: ignore[union-attr]


def test_index_status_command_prints_the_outbox_the_index_and_its_health(
    config_file: Path, database: Database
) -> None:
    unit_id, source_id, _ = seed_units(database)
    add_item(database, unit_id, source_id, "党建学习会", ItemState.PENDING)
    runner = CliRunner()
    result = runner.invoke(build_app(), ["--config", str(config_file), "index", "status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["outbox"]["pending"], report["outbox"]["stuck"]) == (1, 0)
    assert report["health"]["ok"] is True and report["index"]["documents"] == 0

    result = runner.invoke(build_app(), ["--config", str(config_file), "index", "drain"])
    assert result.exit_code == 0 and "applied 1" in result.output
    result = runner.invoke(build_app(), ["--config", str(config_file), "index", "status"])
    assert result.exit_code == 0, result.output
    assert "outbox pending 0" in result.output and "1 documents (pending 1)" in result.output


def test_one_drain_at_a_time_the_second_skips_and_loses_nothing(
    database: Database, search_backend: SearchBackend
) -> None:
    """While one drain holds the store's drain lock, another (a decision's catch-up, a second worker)
    applies nothing and says busy, so no two drains can write one item's documents in the wrong order;
    the rows wait for the next drain."""
    unit_id, source_id, _ = seed_units(database)
    item_id = add_item(database, unit_id, source_id, "党建稿件", ItemState.APPROVED)
    with drain_lock(database) as held:
        assert held
        stats = drain_outbox(database, search_backend, now=NOW)
        assert stats.busy and stats.applied == 0 and stats.remaining > 0
        assert "another drain is running" in str(stats)
        assert found(search_backend, "党建") == []
    stats = drain_outbox(database, search_backend, now=NOW)
    assert not stats.busy and stats.applied > 0 and stats.remaining == 0
    assert found(search_backend, "党建") == [item_id]
