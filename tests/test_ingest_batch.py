"""Batch ingest gives the same store as ingesting the same raws one by one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.db import Database
from hub.ingest import IngestOutcome, ingest
from hub.ingestbatch import ingest_batch
from hub.models import Item, ItemRevision, ModerationEvent, OutboxEntry, ScreeningHit, Source, Unit
from hub.rawitem import Attachment, RawItem
from moderation.service import transition

BASE = "http://127.0.0.1:8700/sites"
NOW = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 5, 7, 8, 0, tzinfo=UTC)
Ingester = Callable[[Session, Sequence[RawItem], datetime], list[IngestOutcome | None]]


def _one_by_one(session: Session, raws: Sequence[RawItem], now: datetime) -> list[IngestOutcome | None]:
    results: list[IngestOutcome | None] = []
    for raw in raws:
        try:
            with session.begin_nested():
                results.append(ingest(session, raw, now))
        except ValueError:
            results.append(None)
    return results


@pytest.fixture
def sources(database: Database) -> Iterator[tuple[int, int]]:
    """Two sources (city and branch)."""
    with database.session() as session:
        city = Unit(slug="city", name="某市", level="city", path="/")
        session.add(city)
        session.flush()
        city.path = f"/{city.id}/"
        first = Source(unit_id=city.id, name="通知", kind="feed", url=f"{BASE}/city.xml", category="通知公告")
        # This feed's guids are not trusted: its items are told apart by URL only (hub/canonical.py).
        second = Source(
            unit_id=city.id, name="转载", kind="feed", url=f"{BASE}/branch.xml", selectors={"guid": "url"}
        )
        session.add_all([first, second])
        session.flush()
        ids = (first.id, second.id)
    yield ids


def raw(source_id: int, path: str, body: str, title: str = "关于召开会议的通知", **extra: Any) -> RawItem:
    return RawItem(source_id=source_id, url=f"{BASE}/{path}", title=title, html=f"<p>{body}</p>", **extra)


# Long and clean enough to pass screening with no hit (an auto-approve policy lets such items through).
CLEAN_K = "关于开展春季植树活动的通知。各社区请于本周五前报名，活动地点在滨江公园东门广场。"
CLEAN_M = "关于做好防汛准备工作的通知。请各单位检查排水设施，落实值班人员，确保通讯畅通无阻。"
CLEAN_L = "关于举办社区运动会的通知。比赛项目包括拔河、跳绳和接力跑，欢迎居民踊跃参加比赛。"


def scenario(city: int, branch: int) -> tuple[list[RawItem], list[RawItem]]:
    """Two crawls: the first with in-batch repeats, guid matches, reposts and a bad item."""
    first = [
        raw(city, "a.html", "正文甲", guid="g-a"),
        raw(city, "a.html?utm_source=weixin#top", "正文甲"),  # same canonical URL, same text
        raw(branch, "copy-a.html", "正文甲"),  # repost of a
        raw(city, "a-moved.html", "正文甲，已修改", guid="g-a"),  # same guid: a revision of a
        raw(city, "bad.html", "正文", title="  "),  # refused: no title
        raw(branch, "f.html", "正文乙"),
        raw(city, "g.html", "正文乙"),  # repost of f, which is new in this very batch
        raw(city, "h.html", "正文丙"),
        raw(city, "h.html", "正文丙，更新"),
        raw(
            city, "j.html", "正文戊 联系电话 13800138000 身份证 110101199003077777"
        ),  # same URL twice in one batch, changed: updated
        raw(city, "k.html", CLEAN_K, guid=f"{BASE}/city.xml"),  # the feed's own URL as guid: not trusted
        raw(branch, "m.html", CLEAN_M, guid="m-1"),  # guid policy "url": the guid is ignored
    ]
    second = [
        raw(city, "a.html", "正文甲，第三版"),  # a is approved by then: waits as a pending revision
        raw(city, "a.html", "正文甲，第三版"),  # unchanged against the pending revision
        raw(city, "h.html", "正文丙，更新"),  # unchanged
        raw(city, "i.html", "正文丁", published_at=NOW),
        raw(branch, "copy-i.html", "正文丁"),
        raw(city, "l.html", CLEAN_L, guid=f"{BASE}/city.xml"),  # a new item, not a revision of k
        raw(branch, "n.html", CLEAN_M.replace("防汛", "防台"), guid="m-1"),  # a new item, not a revision of m
        raw(city, "k.html", CLEAN_K.replace("周五", "周六")),  # a clean revision of k
    ]
    return first, second


def _ids_to_urls(term: str, urls: dict[int, str]) -> str:
    """Screening terms that name an item ("item 12") name its URL instead."""
    return re.sub(r"item (\d+)", lambda m: f"item {urls.get(int(m.group(1)), '?')}", term)


def snapshot(session: Session) -> dict[str, Any]:
    """The store with ids replaced by canonical URLs, so two runs compare equal."""
    urls = {i: u for i, u in session.execute(select(Item.id, Item.canonical_url))}
    items = sorted(
        (
            item.canonical_url,
            item.source_id,
            item.unit_id,
            item.guid,
            item.title,
            item.html,
            item.text,
            item.category,
            item.content_hash,
            item.state,
            item.revision_count,
            item.pending_revision,
            urls.get(item.repost_of_id) if item.repost_of_id else None,
            item.published_at,
            item.date_source,
            item.first_seen_at,
            item.risk_score,
            item.version,
            item.reviewed_by,
            item.reviewed_at,
        )
        for item in session.scalars(select(Item))
    )
    revisions = sorted(
        (urls[r.item_id], r.number, r.title, r.content_hash, r.created_at)
        for r in session.scalars(select(ItemRevision))
    )
    events = sorted(
        (
            urls[e.item_id],
            e.revision_number,
            e.actor,
            e.action,
            e.from_state or "",
            e.to_state,
            e.content_hash or "",
            e.hit_count or 0,
            e.risk_score or 0.0,
            e.lexicon_version or "",
            e.reason_code or "",
        )
        for e in session.scalars(select(ModerationEvent))
    )
    hits = sorted(
        (urls[h.item_id], h.revision_number, h.field, h.start, h.end, _ids_to_urls(h.term, urls), h.category)
        for h in session.scalars(select(ScreeningHit))
    )
    last_new = sorted((i, t) for i, t in session.execute(select(Source.id, Source.last_new_item_at)))
    outbox = sorted((urls[e.item_id], e.op, e.created_at) for e in session.scalars(select(OutboxEntry)))
    return {
        "items": items,
        "revisions": revisions,
        "events": events,
        "hits": hits,
        "last_new": last_new,
        "outbox": outbox,
    }


def run(database: Database, sources: tuple[int, int], ingester: Ingester) -> tuple[list[Any], dict[str, Any]]:
    first, second = scenario(*sources)
    statuses: list[Any] = []
    with database.session() as session:
        outcomes = ingester(session, first, NOW)
        urls = {i: u for i, u in session.execute(select(Item.id, Item.canonical_url))}
        statuses.append([(o.status, urls[o.item_id]) if o else None for o in outcomes])
    with database.session() as session:
        item_id = session.scalars(select(Item.id).where(Item.canonical_url == f"{BASE}/a.html")).one()
        transition(session, item_id, "approve", "tester", now=NOW)  # a fixed time: both runs compare equal
    with database.session() as session:
        outcomes = ingester(session, second, LATER)
        urls = {i: u for i, u in session.execute(select(Item.id, Item.canonical_url))}
        statuses.append([(o.status, urls[o.item_id]) if o else None for o in outcomes])
    with database.session() as session:
        return statuses, snapshot(session)


@pytest.mark.parametrize("policy", [False, True], ids=["policy-off", "auto-approve"])
def test_batch_matches_one_by_one(database: Database, sources: tuple[int, int], policy: bool) -> None:
    with database.session() as session:
        session.execute(update(Unit).values(auto_approve=policy))
    single = run(database, sources, _one_by_one)
    with database.session() as session:
        session.execute(delete(Item))  # revisions and events go with their items
        session.execute(delete(ModerationEvent))
        session.execute(delete(OutboxEntry))
        session.execute(update(Source).values(last_new_item_at=None))
    batch = run(database, sources, ingest_batch)
    assert batch[0] == single[0]
    assert batch[1] == single[1]
    # The scenario covers what it claims to.
    first, second = single[0]
    assert [o[0] if o else None for o in first] == [
        "new",
        "unchanged",
        "new",
        "updated",
        None,
        "new",
        "new",
        "new",
        "updated",
        "new",
        "new",
        "new",
    ]
    assert [o[0] if o else None for o in second] == [
        "updated",
        "unchanged",
        "unchanged",
        "new",
        "new",
        "new",
        "new",
        "updated",
    ]
    states = {row[0]: (row[9], row[18]) for row in single[1]["items"]}
    if policy:  # the clean items went live under the policy, the rest wait for a reviewer
        assert states[f"{BASE}/k.html"] == ("approved", "policy:unit/city")
        assert states[f"{BASE}/l.html"] == ("approved", "policy:unit/city")
        assert states[f"{BASE}/i.html"] == ("pending", None)
        assert ("approved", "policy:unit/city") in [states[f"{BASE}/{p}.html"] for p in ("m", "n")]
    else:
        assert {state for state, _ in states.values()} == {"pending", "approved"}
        assert states[f"{BASE}/k.html"] == ("pending", None)
    reposts = {row[0]: row[12] for row in single[1]["items"]}
    assert reposts[f"{BASE}/copy-a.html"] == f"{BASE}/a.html"
    assert reposts[f"{BASE}/g.html"] == f"{BASE}/f.html"
    assert reposts[f"{BASE}/copy-i.html"] == f"{BASE}/i.html"


def test_same_url_twice_in_one_batch_is_one_item(database: Database, sources: tuple[int, int]) -> None:
    city = sources[0]
    with database.session() as session:
        outcomes = ingest_batch(session, [raw(city, "x.html", "正文"), raw(city, "x.html#top", "正文")])
    assert [o.status if o else None for o in outcomes] == ["new", "unchanged"]
    assert outcomes[0] is not None and outcomes[1] is not None
    assert outcomes[0].item_id == outcomes[1].item_id
    with database.session() as session:
        item = session.scalars(select(Item)).one()
        assert (item.state, item.revision_count, item.category) == ("pending", 1, "通知公告")
        assert session.scalars(select(ModerationEvent.action)).all() == ["submitted"]


def test_empty_and_all_refused_batches(database: Database, sources: tuple[int, int]) -> None:
    with database.session() as session:
        assert ingest_batch(session, []) == []
        assert ingest_batch(session, [raw(sources[0], "y.html", "", title="")]) == [None]
        assert ingest_batch(session, [raw(9999, "z.html", "正文")]) == [None]
        assert session.scalars(select(Item)).all() == []


@pytest.mark.parametrize("ingester", [ingest_batch, _one_by_one], ids=["batch", "one-by-one"])
def test_control_characters_never_reach_the_store(
    database: Database, sources: tuple[int, int], ingester: Ingester
) -> None:
    """A JSON Feed may carry any character: a NUL in one item's title made PostgreSQL refuse the whole
    batch's INSERT (every item of the batch lost, again at each crawl), and control characters break
    the XML the hub republishes. They are dropped from every crawled string; the batch goes on."""
    city = sources[0]
    dirty = RawItem(
        source_id=city,
        url=f"{BASE}/dirty\x01.html",
        title="关于\x00召开\ufffe会议的通知",
        text="正文\x00第一段\x1f。",
        html="<p>正文\x00第一段\x1f。</p>",
        guid="g\x00-1",
        summary="摘要\x0b",
        author="张\x00三",
        origin="区政府\x07办公室",
        attachments=[Attachment(name="附件\x00.pdf", url=f"{BASE}/a\x01.pdf")],
        images=[f"{BASE}/i\x02.png"],
    )
    with database.session() as session:
        outcomes = ingester(
            session, [dirty, raw(city, "clean.html", "另一条通知的正文", title="另一条通知")], NOW
        )
    assert [o.status if o else None for o in outcomes] == ["new", "new"]
    with database.session() as session:
        item = session.scalars(select(Item).where(Item.title.like("关于%"))).one()
        stored = (item.url, item.title, item.text, item.guid, item.summary, item.author, item.origin)
        assert stored == (
            f"{BASE}/dirty.html",
            "关于召开会议的通知",
            "正文第一段。",
            "g-1",
            "摘要",
            "张三",
            "区政府办公室",
        )
        assert "\x00" not in item.html and "\x1f" not in item.html
        assert item.attachments == [{"name": "附件.pdf", "url": f"{BASE}/a.pdf"}]
        assert item.images == [f"{BASE}/i.png"]
