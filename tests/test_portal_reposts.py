"""Portal: a repost says "转载自 …" and shows once; a notice lists its reposts; removed items are marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import lxml.html
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hub.db import Database
from hub.ingest import ingest
from hub.models import Item, Source, Unit
from hub.rawitem import RawItem
from index.outbox import drain_outbox
from moderation.service import approve
from tests.fixtures.web import REVIEWER, add_unit

NOTICE = "<p>各单位：为做好冬季安全生产工作，现将有关事项通知如下。一、加强隐患排查；二、落实值班制度。</p>"
T0 = datetime(2024, 11, 1, 2, 0, tzinfo=UTC)


def _source(session: Session, unit: Unit, slug: str) -> Source:
    source = Source(
        unit_id=unit.id, name=f"{unit.name}通知", kind="feed", url=f"http://127.0.0.1:8700/{slug}.xml"
    )
    session.add(source)
    session.flush()
    return source


def _notice(session: Session, source: Source, path: str, published: datetime) -> int:
    raw = RawItem(
        source_id=source.id,
        url=f"http://127.0.0.1:8700/{path}",
        title="关于做好冬季安全生产工作的通知",
        html=NOTICE,
        published_at=published,
        date_source="label",
    )
    return ingest(session, raw).item_id


def _seed(database: Database) -> tuple[int, list[int]]:
    with database.session() as session:
        city = add_unit(session, "city", "示例市委", "city")
        original = _notice(session, _source(session, city, "city"), "city/1.html", T0)
        reposts = []
        for n, name in enumerate(["东城街道", "西城街道", "南城街道"]):
            branch = add_unit(session, f"b{n}", name, "street", city)
            reposts.append(
                _notice(
                    session, _source(session, branch, f"b{n}"), f"b{n}/1.html", T0 + timedelta(hours=n + 1)
                )
            )
        for item_id in (original, *reposts):
            approve(session, item_id, REVIEWER)
    return original, reposts


def test_repost_links_to_original_and_home_shows_the_notice_once(
    client: TestClient, database: Database
) -> None:
    original, reposts = _seed(database)
    with database.session() as session:
        assert [session.get(Item, i).repost_of_id for i in reposts] == [original] * 3  # type: ignore[union-attr]

    home = client.get("/").text
    assert home.count("关于做好冬季安全生产工作的通知") == 1
    assert f"/items/{original}" in home

    repost_page = client.get(f"/items/{reposts[0]}").text
    assert "转载自" in repost_page and f'href="/items/{original}"' in repost_page
    original_page = client.get(f"/items/{original}").text
    assert "转载单位（3）" in original_page
    for name in ("东城街道", "西城街道", "南城街道"):
        assert name in original_page


def test_repost_of_an_unpublished_original_stands_alone(client: TestClient, database: Database) -> None:
    original, reposts = _seed(database)
    with database.session() as session:
        session.get(Item, original).state = "withdrawn"  # type: ignore[union-attr]
    home = client.get("/").text
    assert home.count("关于做好冬季安全生产工作的通知") == 3  # no published original stands for them
    page = client.get(f"/items/{reposts[1]}").text
    assert "转载自" not in page and f"/items/{original}" not in page


def test_removed_at_source_is_marked_and_kept(client: TestClient, database: Database) -> None:
    original, _ = _seed(database)
    with database.session() as session:
        session.get(Item, original).removed_at_source_at = datetime(2024, 11, 5, 3, 0, tzinfo=UTC)  # type: ignore[union-attr]
    page = client.get(f"/items/{original}")
    assert page.status_code == 200
    assert "原网页已于 2024-11-05 删除" in page.text and "冬季安全生产" in page.text


def test_search_page_says_how_many_units_reposted_the_notice(
    app: FastAPI, client: TestClient, database: Database
) -> None:
    original, reposts = _seed(database)
    with database.session() as session:  # 东城街道 carries the notice on a second source too: still one unit
        east = session.get(Item, reposts[0])
        assert east is not None
        second = Source(
            unit_id=east.unit.id, name="东城街道公众号", kind="feed", url="http://127.0.0.1:8700/b0-wx.xml"
        )
        session.add(second)
        session.flush()
        again = _notice(session, second, "b0/wx-1.html", T0 + timedelta(hours=5))
        approve(session, again, REVIEWER)
        assert session.get(Item, again).repost_of_id == original  # type: ignore[union-attr]
    drain_outbox(database, app.state.backend)

    page = lxml.html.fromstring(client.get("/search", params={"q": "冬季安全生产"}).text)
    hits = page.xpath('//a[contains(@href, "/items/")]/ancestor::li[1]')
    assert [hit.xpath('.//a[contains(@href, "/items/")]/@href')[0] for hit in hits] == [f"/items/{original}"]
    assert [span.text_content() for span in page.cssselect(".reposts")] == ["另有 3 个单位转载"]
    english = lxml.html.fromstring(client.get("/search", params={"q": "冬季安全生产", "lang": "en"}).text)
    assert [span.text_content() for span in english.cssselect(".reposts")] == ["also reposted by 3 units"]
