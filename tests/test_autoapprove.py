"""Auto-approve policy (issue 4): off by default, per unit (inherited) or source, only for clean items."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import Database
from hub.ingest import ingest
from hub.ingestbatch import ingest_batch
from hub.models import Item, ModerationEvent, OutboxEntry, Source, Unit
from hub.rawitem import RawItem
from hub.settings import Settings
from hub.users import create_user
from index.backend import SearchQuery
from index.factory import open_backend
from index.outbox import drain_outbox
from moderation.errors import Forbidden, InvalidTransition
from moderation.policy import policies_for_sources
from moderation.service import reject, transition

BASE = "http://127.0.0.1:8700/sites"
NOW = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 5, 7, 8, 0, tzinfo=UTC)
CLEAN = "关于开展春季植树活动的通知。各社区请于本周五前报名，活动地点在滨江公园东门广场。"
DIRTY = "本文件为内部资料，不得外传。各社区请于本周五前报名，活动地点在滨江公园东门广场。"


@dataclass(frozen=True, slots=True)
class Tree:
    """city → district → branch units, one source on the district and one on the branch."""

    city: int
    district: int
    branch: int
    district_source: int
    branch_source: int


@pytest.fixture
def tree(database: Database) -> Iterator[Tree]:
    with database.session() as session:
        city = Unit(slug="city", name="某市", level="city", path="/")
        session.add(city)
        session.flush()
        city.path = f"/{city.id}/"
        district = Unit(slug="d1", name="某区", level="district", parent_id=city.id, path="/")
        session.add(district)
        session.flush()
        district.path = f"{city.path}{district.id}/"
        branch = Unit(slug="d1-b1", name="某社区", level="branch", parent_id=district.id, path="/")
        session.add(branch)
        session.flush()
        branch.path = f"{district.path}{branch.id}/"
        first = Source(unit_id=district.id, name="区通知", kind="feed", url=f"{BASE}/d1.xml")
        second = Source(unit_id=branch.id, name="社区动态", kind="feed", url=f"{BASE}/b1.xml")
        session.add_all([first, second])
        session.flush()
        ids = Tree(city.id, district.id, branch.id, first.id, second.id)
    yield ids


def set_policy(database: Database, model: type[Unit] | type[Source], row_id: int, value: bool | None) -> None:
    with database.session() as session:
        row = session.get(model, row_id)
        assert row is not None
        row.auto_approve = value


def raw(source_id: int, path: str, body: str, title: str = "春季植树活动通知") -> RawItem:
    return RawItem(source_id=source_id, url=f"{BASE}/{path}", title=title, html=f"<p>{body}</p>")


def events(session: Session, item_id: int) -> list[tuple[str, str, str | None, str]]:
    query = select(ModerationEvent).where(ModerationEvent.item_id == item_id).order_by(ModerationEvent.id)
    return [(e.actor, e.action, e.from_state, e.to_state) for e in session.scalars(query)]


def outbox(session: Session) -> list[tuple[int, str]]:
    return [(e.item_id, e.op) for e in session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))]


@pytest.mark.parametrize("batch", [False, True])
def test_policy_off_by_default_leaves_clean_items_pending(
    database: Database, tree: Tree, batch: bool
) -> None:
    with database.session() as session:
        item = raw(tree.branch_source, "a.html", CLEAN)
        outcome = ingest_batch(session, [item], NOW)[0] if batch else ingest(session, item, NOW)
        assert outcome is not None
        stored = session.get(Item, outcome.item_id)
        assert stored is not None and (stored.state, stored.reviewed_by) == ("pending", None)
        assert outbox(session) == [(outcome.item_id, "upsert")]  # indexed as pending (staff search)


@pytest.mark.parametrize("batch", [False, True])
def test_clean_item_is_approved_by_the_inherited_unit_policy_and_searchable(
    database: Database, settings: Settings, tree: Tree, batch: bool
) -> None:
    set_policy(database, Unit, tree.city, True)
    set_policy(database, Unit, tree.district, None)  # inherits from the city
    with database.session() as session:
        item = raw(tree.branch_source, "a.html", CLEAN)
        outcome = ingest_batch(session, [item], NOW)[0] if batch else ingest(session, item, NOW)
        assert outcome is not None and outcome.status == "new"
        item_id = outcome.item_id
    with database.session() as session:
        stored = session.get(Item, item_id)
        assert stored is not None
        assert (stored.state, stored.version, stored.reviewed_by) == ("approved", 2, "policy:unit/city")
        assert stored.reviewed_at == NOW
        assert events(session, item_id) == [
            ("crawler", "submitted", None, "pending"),
            ("policy:unit/city", "auto_approve", "pending", "approved"),
        ]
        assert outbox(session) == [(item_id, "upsert")]
    backend = open_backend(settings)
    try:
        backend.ensure_ready()
        drain_outbox(database, backend)
        result = backend.search(SearchQuery(text="植树"))
        assert [hit.item_id for hit in result.hits] == [item_id]
    finally:
        backend.close()


@pytest.mark.parametrize("batch", [False, True])
def test_an_item_with_a_screening_hit_waits_for_a_reviewer(
    database: Database, tree: Tree, batch: bool
) -> None:
    set_policy(database, Unit, tree.city, True)
    with database.session() as session:
        raws = [raw(tree.branch_source, "dirty.html", DIRTY), raw(tree.branch_source, "short.html", "好")]
        outcomes = ingest_batch(session, raws, NOW) if batch else [ingest(session, r, NOW) for r in raws]
        for outcome in outcomes:
            assert outcome is not None
            stored = session.get(Item, outcome.item_id)
            assert stored is not None and stored.state == "pending"
            assert [e[1] for e in events(session, outcome.item_id)] == ["submitted"]
        assert outbox(session) == [(o.item_id, "upsert") for o in outcomes if o is not None]


def test_nearest_setting_wins(database: Database, tree: Tree) -> None:
    set_policy(database, Unit, tree.city, True)
    set_policy(database, Unit, tree.branch, False)  # the branch opts out of its city's policy
    with database.session() as session:
        policies = policies_for_sources(session, [tree.district_source, tree.branch_source])
        assert {k: p.name if p else None for k, p in policies.items()} == {
            tree.district_source: "unit/city",
            tree.branch_source: None,
        }
    set_policy(database, Source, tree.branch_source, True)  # ... but this one source opts back in
    set_policy(database, Source, tree.district_source, False)
    with database.session() as session:
        policies = policies_for_sources(session, [tree.district_source, tree.branch_source])
        assert {k: p.actor if p else None for k, p in policies.items()} == {
            tree.district_source: None,
            tree.branch_source: f"policy:source/{tree.branch_source}",
        }
        outcome = ingest(session, raw(tree.branch_source, "a.html", CLEAN), NOW)
        assert session.get(Item, outcome.item_id).reviewed_by == f"policy:source/{tree.branch_source}"  # type: ignore[union-attr]


@pytest.mark.parametrize("batch", [False, True])
def test_revisions_follow_the_same_rule(database: Database, tree: Tree, batch: bool) -> None:
    set_policy(database, Unit, tree.district, True)
    edited = CLEAN.replace("周五", "周六")

    def run(session: Session, item: RawItem, now: datetime) -> int:
        outcome = ingest_batch(session, [item], now)[0] if batch else ingest(session, item, now)
        assert outcome is not None
        return outcome.item_id

    with database.session() as session:
        item_id = run(session, raw(tree.district_source, "a.html", CLEAN), NOW)
    with database.session() as session:  # a clean edit of an approved item goes live at once
        assert run(session, raw(tree.district_source, "a.html", edited), LATER) == item_id
        stored = session.get(Item, item_id)
        assert stored is not None
        assert (stored.state, stored.pending_revision, stored.text, stored.version) == (
            "approved",
            None,
            edited,
            4,  # 1 stored, 2 auto-approved, 3 revised by the source, 4 the revision auto-approved
        )
    with database.session() as session:  # an edit with a hit waits; the approved content stays live
        run(session, raw(tree.district_source, "a.html", DIRTY), LATER)
        stored = session.get(Item, item_id)
        assert stored is not None
        assert (stored.state, stored.pending_revision, stored.text) == ("approved", 3, edited)
        assert [e[1] for e in events(session, item_id)] == [
            "submitted",
            "auto_approve",
            "revised",
            "auto_approve",
            "revised",
        ]
        # each auto-approval queued the item, and so did the edit that waits for a reviewer
        assert outbox(session) == [(item_id, "upsert")] * 3


def test_a_policy_never_overrides_a_reviewer(database: Database, tree: Tree) -> None:
    with database.session() as session:
        item_id = ingest(session, raw(tree.district_source, "a.html", DIRTY), NOW).item_id
        reject(session, item_id, "reviewer", reason="涉密")
    set_policy(database, Unit, tree.district, True)
    with database.session() as session:  # the source cleans it up: still rejected, a person decides
        ingest(session, raw(tree.district_source, "a.html", CLEAN), LATER)
        stored = session.get(Item, item_id)
        assert stored is not None and stored.state == "rejected"


def test_only_a_policy_auto_approves_and_only_clean_revisions(database: Database, tree: Tree) -> None:
    with database.session() as session:
        clean = ingest(session, raw(tree.district_source, "a.html", CLEAN), NOW).item_id
        dirty = ingest(session, raw(tree.district_source, "b.html", DIRTY), NOW).item_id
        moderator = create_user(session, "mod", "pw-secret-1", "moderator")
        with pytest.raises(Forbidden):
            transition(session, clean, "auto_approve", moderator)
        with pytest.raises(Forbidden):
            transition(session, clean, "auto_approve", "bench")
        with pytest.raises(InvalidTransition, match="screening hits"):
            transition(session, dirty, "auto_approve", "policy:unit/d1")
        item = transition(session, clean, "auto_approve", "policy:unit/d1")
        assert (item.state, item.reviewed_by) == ("approved", "policy:unit/d1")


def test_published_page_and_api_name_the_policy_not_a_reviewer(
    database: Database, tree: Tree, client: TestClient
) -> None:
    set_policy(database, Unit, tree.district, True)
    with database.session() as session:
        item_id = ingest(session, raw(tree.district_source, "a.html", CLEAN), NOW).item_id
    page = client.get(f"/items/{item_id}")
    assert page.status_code == 200
    assert "由自动通过策略 unit/d1 发布" in page.text
    assert "责任审核人" not in page.text
    english = client.get(f"/items/{item_id}", params={"lang": "en"})
    assert "Auto-approved by policy unit/d1" in english.text
    data = client.get(f"/api/v1/items/{item_id}").json()
    assert (data["auto_approved_by_policy"], data["reviewed_by"]) == ("unit/d1", "policy:unit/d1")
