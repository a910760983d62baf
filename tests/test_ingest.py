"""Ingest: canonical dedupe, unchanged re-ingest, revisions, approved content stays live, reposts."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from hub.db import Database
from hub.ingest import ingest
from hub.models import Item, ItemRevision, ModerationEvent, OutboxEntry, Source, Unit
from hub.rawitem import Attachment, RawItem
from moderation.service import approve

URL = "http://127.0.0.1:8700/sites/city/news/1.html"


@pytest.fixture
def source_ids(database: Database) -> Iterator[tuple[int, int]]:
    """Two sources of two units."""
    with database.session() as session:
        city = Unit(slug="city", name="某市", level="city", path="/")
        session.add(city)
        session.flush()
        city.path = f"/{city.id}/"
        first = Source(unit_id=city.id, name="通知", kind="feed", url="http://127.0.0.1:8700/city.xml")
        second = Source(unit_id=city.id, name="转载", kind="feed", url="http://127.0.0.1:8700/other.xml")
        session.add_all([first, second])
        session.flush()
        ids = (first.id, second.id)
    yield ids


def raw(source_id: int, url: str = URL, body: str = "<p>党建工作会议召开。</p>", **extra: object) -> RawItem:
    return RawItem(source_id=source_id, url=url, title="关于召开党建工作会议的通知", html=body, **extra)  # type: ignore[arg-type]


def count(session: Session, model: type[Item] | type[ItemRevision] | type[OutboxEntry]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_new_item_is_pending_with_revision_one(database: Database, source_ids: tuple[int, int]) -> None:
    with database.session() as session:
        outcome = ingest(
            session,
            raw(
                source_ids[0],
                body='<p>正文<script>x()</script><a href="/f.pdf">附件</a></p>',
                guid="g1",
                attachments=[Attachment("附件", "http://127.0.0.1:8700/f.pdf")],
            ),
        )
    assert outcome.status == "new"
    with database.session() as session:
        item = session.get(Item, outcome.item_id)
        assert item is not None
        assert (item.state, item.revision_count, item.version, item.pending_revision) == (
            "pending",
            1,
            1,
            None,
        )
        assert "script" not in item.html and 'href="http://127.0.0.1:8700/f.pdf"' in item.html
        assert item.text == "正文附件"
        assert item.attachments == [{"name": "附件", "url": "http://127.0.0.1:8700/f.pdf"}]
        assert [r.number for r in item.revisions] == [1]
        event = session.scalars(select(ModerationEvent)).one()
        assert (event.action, event.actor, event.to_state) == ("submitted", "crawler", "pending")
        assert count(session, OutboxEntry) == 1  # indexed as pending: staff search it, the public does not


def test_tracking_params_and_fragments_dedupe_to_one_item(
    database: Database, source_ids: tuple[int, int]
) -> None:
    with database.session() as session:
        first = ingest(session, raw(source_ids[0]))
        again = ingest(session, raw(source_ids[0], url=URL + "?utm_source=weixin&from=timeline#top"))
        upper = ingest(session, raw(source_ids[0], url=URL.replace("http://", "HTTP://")))
    assert first.status == "new"
    assert (again.status, upper.status) == ("unchanged", "unchanged")
    assert again.item_id == upper.item_id == first.item_id
    with database.session() as session:
        assert count(session, Item) == 1


def test_guid_dedupes_when_the_url_changes(database: Database, source_ids: tuple[int, int]) -> None:
    with database.session() as session:
        first = ingest(session, raw(source_ids[0], guid="urn:1"))
        moved = ingest(session, raw(source_ids[0], url=URL.replace("1.html", "1-new.html"), guid="urn:1"))
    assert moved.item_id == first.item_id and moved.status == "unchanged"


def test_changed_content_of_a_pending_item_becomes_revision_two(
    database: Database, source_ids: tuple[int, int]
) -> None:
    with database.session() as session:
        first = ingest(session, raw(source_ids[0]))
        whitespace_only = ingest(session, raw(source_ids[0], body="<p>党建工作会议  召开。</p>"))
        changed = ingest(session, raw(source_ids[0], body="<p>党建工作会议改期召开。</p>"))
    assert whitespace_only.status == "unchanged"
    assert changed.status == "updated" and changed.item_id == first.item_id
    with database.session() as session:
        item = session.get(Item, first.item_id)
        assert item is not None
        assert (item.revision_count, item.state, item.pending_revision) == (2, "pending", None)
        assert "改期" in item.text
        assert [r.number for r in item.revisions] == [1, 2]


def test_change_to_an_approved_item_waits_for_review(database: Database, source_ids: tuple[int, int]) -> None:
    with database.session() as session:
        item_id = ingest(session, raw(source_ids[0])).item_id
        approve(session, item_id, "auto")
    with database.session() as session:
        outcome = ingest(session, raw(source_ids[0], body="<p>已被篡改的内容。</p>"))
        repeat = ingest(session, raw(source_ids[0], body="<p>已被篡改的内容。</p>"))
    assert (outcome.status, repeat.status) == ("updated", "unchanged")
    with database.session() as session:
        item = session.get(Item, item_id)
        assert item is not None
        assert item.state == "approved" and "党建工作会议召开" in item.text  # approved content stays live
        assert (item.revision_count, item.pending_revision) == (2, 2)
        assert (
            session.scalars(select(ItemRevision.text).where(ItemRevision.number == 2)).one()
            == "已被篡改的内容。"
        )
        assert count(session, OutboxEntry) == 3  # ingest, approval, the edit (re-indexes the live content)
    with database.session() as session:
        approve(session, item_id, "auto")  # the reviewer accepts the new revision
    with database.session() as session:
        item = session.get(Item, item_id)
        assert item is not None
        assert item.text == "已被篡改的内容。" and item.pending_revision is None
        assert [e.op for e in session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))] == ["upsert"] * 4


def test_same_content_from_another_source_is_a_repost(
    database: Database, source_ids: tuple[int, int]
) -> None:
    with database.session() as session:
        original = ingest(session, raw(source_ids[0]))
        repost = ingest(session, raw(source_ids[1], url="http://127.0.0.1:8700/other/9.html"))
    with database.session() as session:
        item = session.get(Item, repost.item_id)
        assert item is not None and item.repost_of_id == original.item_id


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [("", "<p>x</p>", "no title"), ("  ", "<p>x</p>", "no title"), ("标题", "", "no body")],
)
def test_unusable_input_is_a_clear_error(
    database: Database, source_ids: tuple[int, int], title: str, body: str, message: str
) -> None:
    with database.session() as session, pytest.raises(ValueError, match=message):
        ingest(session, RawItem(source_id=source_ids[0], url=URL, title=title, html=body))
    with database.session() as session, pytest.raises(ValueError, match="unknown source"):
        ingest(session, raw(999_999))


def test_concurrent_insert_of_the_same_url_is_retried_as_update(
    database: Database, source_ids: tuple[int, int]
) -> None:
    """Two sessions ingest one URL at once: the loser hits the unique constraint and takes the update path."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers; the race needs row-level locking (runs on PostgreSQL)")
    first = database.sessions()
    first.begin()
    winner = ingest(first, raw(source_ids[0]))  # inserted, not yet committed
    results: list[str] = []

    def loser() -> None:
        with database.session() as second:
            results.append(ingest(second, raw(source_ids[0], url=URL + "?spm=1")).status)

    thread = threading.Thread(target=loser)
    thread.start()
    # Commit only once the second session waits on the unique index (bounded poll, no sleep).
    with database.engine.connect() as watch:
        for _ in range(100_000):
            waiting = watch.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar()
            watch.commit()
            if waiting:
                break
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert results == ["unchanged"]
    with database.session() as session:
        assert session.scalars(select(Item.id)).all() == [winner.item_id]
