"""Moderation: transitions, permissions, optimistic locking, audit events and outbox rows."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.db import Database
from hub.ingest import ingest
from hub.ingestbatch import ingest_batch
from hub.models import Item, ModerationEvent, OutboxEntry, Source, Unit, User
from hub.rawitem import RawItem
from hub.users import create_user
from moderation.errors import Conflict, Forbidden, InvalidTransition, NotFound
from moderation.queue import count_queue, list_queue
from moderation.service import approve, reject, transition


@pytest.fixture
def items(database: Database) -> list[int]:
    """Three pending items: two under district d1 (of the city), one directly under the city."""
    with database.session() as session:
        city = Unit(slug="city", name="市", level="city", path="/")
        session.add(city)
        session.flush()
        city.path = f"/{city.id}/"
        district = Unit(slug="d1", name="区", level="district", parent_id=city.id, path="/")
        session.add(district)
        session.flush()
        district.path = f"{city.path}{district.id}/"
        ids = []
        for n, unit in enumerate([district, city, district]):
            source = Source(unit_id=unit.id, name=f"s{n}", kind="feed", url=f"http://127.0.0.1/{n}.xml")
            session.add(source)
            session.flush()
            raw = RawItem(
                source_id=source.id, url=f"http://127.0.0.1/{n}.html", title=f"通知{n}", html=f"<p>{n}</p>"
            )
            ids.append(ingest(session, raw).item_id)
        session.execute(delete(OutboxEntry))  # ingest's own rows (tests/test_ingest.py); here: decisions'
    return ids


def outbox(session: Session) -> list[tuple[int, str]]:
    return [(e.item_id, e.op) for e in session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))]


def test_approve_then_withdraw_writes_events_and_outbox(database: Database, items: list[int]) -> None:
    with database.session() as session:
        moderator = create_user(session, "mod", "pw-secret-1", "moderator", display_name="审核员")
        item = approve(session, items[0], moderator, expected_version=1)
        assert (item.state, item.version, item.reviewed_by) == ("approved", 2, "mod")
        assert item.reviewed_at is not None
    with database.session() as session:
        assert outbox(session) == [(items[0], "upsert")]
        with pytest.raises(InvalidTransition, match="reason"):
            transition(session, items[0], "withdraw", "auto")
        item = transition(session, items[0], "withdraw", "auto", reason="内容有误")
        assert item.state == "withdrawn"
    with database.session() as session:
        # Withdrawn items stay indexed for staff search (the public sees approved ones only).
        assert outbox(session) == [(items[0], "upsert"), (items[0], "upsert")]
        events = session.scalars(
            select(ModerationEvent).where(ModerationEvent.item_id == items[0]).order_by(ModerationEvent.id)
        ).all()
        assert [(e.action, e.actor, e.from_state, e.to_state) for e in events] == [
            ("submitted", "crawler", None, "pending"),
            ("approve", "mod", "pending", "approved"),
            ("withdraw", "auto", "approved", "withdrawn"),
        ]
        assert events[-1].reason == "内容有误"


def test_reject_queues_the_item_and_rejected_can_be_approved(database: Database, items: list[int]) -> None:
    with database.session() as session:
        item = reject(session, items[1], "demo", reason="与本单位无关")
        assert item.state == "rejected"
        assert outbox(session) == [(items[1], "upsert")]  # staff search every state
        with pytest.raises(InvalidTransition):
            reject(session, items[1], "demo")
        assert approve(session, items[1], "demo").state == "approved"
        assert outbox(session) == [(items[1], "upsert"), (items[1], "upsert")]


def test_invalid_transitions_and_unknown_items(database: Database, items: list[int]) -> None:
    with database.session() as session:
        with pytest.raises(InvalidTransition):
            transition(session, items[0], "withdraw", "auto", reason="x")  # pending is not live
        with pytest.raises(InvalidTransition, match="unknown action"):
            transition(session, items[0], "publish", "auto")
        approve(session, items[0], "auto")
        with pytest.raises(InvalidTransition):
            approve(session, items[0], "auto")  # already approved, no revision waiting
        with pytest.raises(NotFound):
            approve(session, 999_999, "auto")


def test_permissions(database: Database, items: list[int]) -> None:
    with database.session() as session:
        viewer = create_user(session, "viewer", "pw-secret-2", "viewer")
        district_id = session.scalars(select(Unit.id).where(Unit.slug == "d1")).one()
        scoped = create_user(session, "scoped", "pw-secret-3", "moderator", unit_scope_id=district_id)
        admin = create_user(session, "admin", "pw-secret-4", "admin")
        with pytest.raises(Forbidden):
            approve(session, items[0], viewer)
        with pytest.raises(Forbidden):
            approve(session, items[1], scoped)  # the city item is outside the district scope
        assert approve(session, items[0], scoped).state == "approved"
        admin.active = False
        with pytest.raises(Forbidden):
            approve(session, items[2], admin)
        assert outbox(session) == [(items[0], "upsert")]
        assert session.get(Item, items[1]).state == "pending"  # type: ignore[union-attr]


def test_stale_expected_version_is_a_conflict(database: Database, items: list[int]) -> None:
    with database.session() as session:
        approve(session, items[0], "auto", expected_version=1)
    with database.session() as session:
        with pytest.raises(Conflict):
            transition(session, items[0], "withdraw", "auto", reason="r", expected_version=1)
        assert outbox(session) == [(items[0], "upsert")]


def test_a_source_edit_makes_a_reviewers_view_stale(database: Database, items: list[int]) -> None:
    with database.session() as session:
        seen = session.get(Item, items[0])
        assert seen is not None
        version_seen, source_id = seen.version, seen.source_id
        edited = RawItem(
            source_id=source_id, url="http://127.0.0.1/0.html", title="通知0", html="<p>0（更正）</p>"
        )
        assert ingest(session, edited).status == "updated"
    with database.session() as session:
        with pytest.raises(Conflict):  # the reviewer read the text before the source changed it
            approve(session, items[0], "auto", expected_version=version_seen)
        assert session.get(Item, items[0]).state == "pending"  # type: ignore[union-attr]


def test_two_reviewers_exactly_one_wins(database: Database, items: list[int]) -> None:
    """Both sessions read version 1; the second UPDATE ... WHERE version = 1 matches nothing."""
    first, second = database.sessions(), database.sessions()
    try:
        assert first.get(Item, items[0]) is not None and second.get(Item, items[0]) is not None
        first.commit()  # end the read transactions: each reviewer decides later
        second.commit()
        approve(first, items[0], "alice", expected_version=1)
        first.commit()
        with pytest.raises(Conflict):
            reject(second, items[0], "bob", expected_version=1)
        second.rollback()
    finally:
        first.close()
        second.close()
    with database.session() as session:
        item = session.get(Item, items[0])
        assert item is not None and (item.state, item.version, item.reviewed_by) == ("approved", 2, "alice")
        assert outbox(session) == [(items[0], "upsert")]
        decisions = session.scalar(
            select(func.count())
            .select_from(ModerationEvent)
            .where(ModerationEvent.actor.in_(["alice", "bob"]))
        )
        assert decisions == 1


def test_queue_is_oldest_first_and_filters_by_subtree(database: Database, items: list[int]) -> None:
    with database.session() as session:
        assert [item.id for item in list_queue(session, order="age")] == items
        # Default: riskiest first (the city's items weigh less), ties oldest first.
        assert [item.id for item in list_queue(session)] == [items[0], items[2], items[1]]
        city_id, district_id = (
            session.scalars(select(Unit.id).where(Unit.slug == s)).one() for s in ("city", "d1")
        )
        assert [item.id for item in list_queue(session, unit_subtree=district_id)] == [items[0], items[2]]
        assert len(list_queue(session, unit_subtree=city_id)) == 3
        assert [item.id for item in list_queue(session, limit=1, offset=1, order="age")] == [items[1]]
        approve(session, items[0], "auto")
        assert [item.id for item in list_queue(session, state="approved")] == [items[0]]
        assert count_queue(session) == 2 and count_queue(session, unit_subtree=district_id) == 1
        assert list_queue(session, unit_subtree=999_999) == []


def test_users_are_objects_not_strings(database: Database, items: list[int]) -> None:
    with database.session() as session:
        user = create_user(session, "m2", "pw-secret-5", "moderator")
        assert isinstance(user, User)
        assert approve(session, items[2], user).reviewed_by == "m2"


@pytest.mark.parametrize("batch", [False, True])
def test_declining_an_edit_keeps_the_published_content_and_does_not_requeue_it(
    database: Database, items: list[int], batch: bool
) -> None:
    def crawl_sees(html: str) -> str:
        with database.session() as session:
            source_id = session.get(Item, items[0]).source_id  # type: ignore[union-attr]
            raw = RawItem(source_id=source_id, url="http://127.0.0.1/0.html", title="通知0", html=html)
            outcome = ingest_batch(session, [raw])[0] if batch else ingest(session, raw)
            assert outcome is not None
            return outcome.status

    with database.session() as session:
        approve(session, items[0], "王芳")
    assert crawl_sees("<p>0（改）</p>") == "updated"
    with database.session() as session:
        item = reject(session, items[0], "李明", reason="改动未经核实")
        assert (item.state, item.pending_revision, item.text, item.reviewed_by) == (
            "approved",
            None,
            "0",
            "王芳",
        )
        last = session.scalars(select(ModerationEvent).order_by(ModerationEvent.id.desc())).first()
        assert last is not None and (last.action, last.actor, last.revision_number) == (
            "reject_revision",
            "李明",
            2,
        )
        # approval, the source's edit, the declined edit: each re-indexes the item as it is (still
        # approved, with the published content)
        assert outbox(session) == [(items[0], "upsert")] * 3
    assert crawl_sees("<p>0（改）</p>") == "unchanged"  # the declined edit does not come back
    assert crawl_sees("<p>0</p>") == "unchanged"  # nor does the published content
    assert crawl_sees("<p>0（再改）</p>") == "updated"  # a new edit is reviewed again
    with database.session() as session:
        assert session.get(Item, items[0]).pending_revision == 3  # type: ignore[union-attr]
