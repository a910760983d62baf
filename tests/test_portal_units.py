"""Portal home, unit pages and the unit directory: lists by level, this month's most active units,
activity and crawl-health badges, sources, feeds, widget code, the tree with counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import lxml.html
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from api.content import indexed_most_active_units, most_active_units, subtree_approved
from api.unit_health import unit_health
from hub.db import Database
from hub.ingest import ingest
from hub.models import Item, Source, Unit, UnitHealthSummary
from hub.rawitem import RawItem
from hub.settings import Settings
from index.factory import open_backend
from index.outbox import drain_outbox
from moderation.service import approve
from tests.fixtures.web import REVIEWER, add_unit

NOW = datetime(2024, 5, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
LAST_CRAWL = datetime(2024, 5, 19, 2, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Tree:
    """Unit ids and the repost's id of the seeded tree."""

    city: int
    east: int
    street: int
    school: int
    west: int
    repost: int


def _source(session: Session, unit: Unit, name: str, url: str, **extra: object) -> Source:
    source = Source(unit_id=unit.id, name=name, kind=extra.pop("kind", "feed"), url=url, **extra)
    session.add(source)
    session.flush()
    return source


def _notice(
    session: Session, source: Source, path: str, title: str, published: datetime, approved: bool = True
) -> int:
    raw = RawItem(
        source_id=source.id,
        url=f"http://127.0.0.1:8700/{path}",
        title=title,
        html=f"<p>{title}。{path} 的正文内容，用于门户页面测试。</p>",
        published_at=published,
        date_source="label",
    )
    item_id = ingest(session, raw, now=published).item_id
    if approved:
        approve(session, item_id, REVIEWER)
    return item_id


def seed_tree(database: Database) -> Tree:
    """City → east district → east street → school branch, and a west district.

    In May 2024 (Shanghai): the school published 3 notices and a repost of a city notice, the city 2
    (one at 01:00 on 1 May in Shanghai, still 30 April in UTC), the east district 1; the west district
    published in April only, and has a pending notice in May.
    """
    with database.session() as session:
        city = add_unit(session, "city", "示例市委", "city")
        east = add_unit(session, "east", "东城区委", "district", city)
        street = add_unit(session, "east-street", "东城街道", "street", east)
        school = add_unit(session, "east-school", "东城实验学校党支部", "branch", street)
        west = add_unit(session, "west", "西城区委", "district", city)
        west.website = "javascript:alert(1)"
        city_feed = _source(session, city, "市委网站", "http://127.0.0.1:8700/city/feed.xml")
        east_feed = _source(
            session, east, "东城区政府网站", "http://127.0.0.1:8700/east/feed.xml", last_success_at=LAST_CRAWL
        )
        _source(
            session,
            east,
            "东城发布",
            "bridge://weibo/east123",
            kind="account",
            platform="weibo",
            account_id="east123",
            consecutive_failures=3,
        )
        _source(session, east, "停用的旧网站", "http://127.0.0.1:8700/east/old.xml", enabled=False)
        school_feed = _source(
            session, school, "学校新闻", "http://127.0.0.1:8700/school/feed.xml", last_success_at=LAST_CRAWL
        )
        west_feed = _source(session, west, "西城网站", "http://127.0.0.1:8700/west/feed.xml")

        original = _notice(
            session, city_feed, "c/1.html", "市级通知：防汛工作部署", datetime(2024, 5, 10, tzinfo=UTC)
        )
        _notice(
            session, city_feed, "c/2.html", "市级通知：五一假期安排", datetime(2024, 4, 30, 17, 0, tzinfo=UTC)
        )
        _notice(session, east_feed, "e/1.html", "东城区开展消防检查", datetime(2024, 5, 12, tzinfo=UTC))
        for day in (3, 8, 15):
            _notice(
                session,
                school_feed,
                f"s/{day}.html",
                f"学校活动简报第{day}期",
                datetime(2024, 5, day, tzinfo=UTC),
            )
        repost = _notice(
            session, school_feed, "s/r.html", "转载：防汛工作部署", datetime(2024, 5, 11, tzinfo=UTC)
        )
        session.get(Item, repost).repost_of_id = original  # type: ignore[union-attr]
        _notice(session, west_feed, "w/1.html", "西城区四月工作简报", datetime(2024, 4, 15, tzinfo=UTC))
        _notice(
            session,
            west_feed,
            "w/2.html",
            "西城区待审稿件",
            datetime(2024, 5, 16, tzinfo=UTC),
            approved=False,
        )
        return Tree(city.id, east.id, street.id, school.id, west.id, repost)


@pytest.fixture
def tree(app: FastAPI, database: Database) -> Tree:
    app.state.clock = lambda: NOW
    seeded = seed_tree(database)
    drain_outbox(database, app.state.backend)
    return seeded


def section(html: str, heading_id: str) -> str:
    """Text of the <section> labelled by ``heading_id``."""
    document = lxml.html.fromstring(html)
    found = document.xpath(f'//section[@aria-labelledby="{heading_id}"]')
    assert found, heading_id
    return str(found[0].text_content())


def links(html: str, heading_id: str) -> list[str]:
    """hrefs inside the <section> labelled by ``heading_id``, in order."""
    document = lxml.html.fromstring(html)
    return [str(a.get("href")) for a in document.xpath(f'//section[@aria-labelledby="{heading_id}"]//a')]


def test_home_lists_notices_by_level_without_reposts(client: TestClient, tree: Tree) -> None:
    html = client.get("/").text
    city = section(html, "home_city-heading")
    assert "市级通知：防汛工作部署" in city and "市级通知：五一假期安排" in city
    assert "东城区开展消防检查" in section(html, "home_districts-heading")
    assert "东城区开展消防检查" not in city
    grassroots = section(html, "home_grassroots-heading")
    assert "学校活动简报第15期" in grassroots and "市级通知" not in grassroots
    assert "转载：防汛工作部署" not in html  # its published original stands for it
    assert "西城区待审稿件" not in html
    # Newest first within a list.
    assert grassroots.index("第15期") < grassroots.index("第8期") < grassroots.index("第3期")


def test_home_ranks_the_most_active_units_of_this_month_in_the_configured_zone(
    client: TestClient, tree: Tree
) -> None:
    html = client.get("/").text
    assert links(html, "active-heading") == ["/units/east-school", "/units/city", "/units/east"]
    active = section(html, "active-heading")
    # The school's repost counts as activity; the city's notice of 01:00 on 1 May (Shanghai) is May's.
    assert "东城实验学校党支部\n      4 条" in active
    assert "示例市委\n      2 条" in active
    assert "西城区委" not in active  # April only, and a pending notice does not count


def test_home_in_a_month_without_notices(app: FastAPI, client: TestClient, tree: Tree) -> None:
    app.state.clock = lambda: datetime(2024, 7, 1, tzinfo=UTC)
    html = client.get("/").text
    assert "本月暂无发布。" in html
    assert "市级通知：防汛工作部署" in html  # the latest lists are not limited to the month


def test_unit_page_shows_family_activity_and_health(client: TestClient, tree: Tree) -> None:
    html = client.get("/units/east").text
    family = section(html, "family-heading")
    assert "示例市委" in family and "东城街道" in family
    assert links(html, "family-heading") == ["/units/city", "/units/east-street"]
    assert "未登记信息源" in family  # the street has no sources
    summary = lxml.html.fromstring(html).xpath('//p[contains(@class, "unit-summary")]')[0].text_content()
    # Within 30 days of 20 May: the district's notice of 12 May and the school's four (a repost too).
    assert "近 30 天发布 5 条" in summary and "最近发布 2024-05-15" in summary
    # One of its two enabled sources failed its last three crawls; the disabled one is not counted.
    assert "1/2 个信息源连续采集失败（最多 3 次）" in summary
    school = client.get("/units/east-street").text
    family = section(school, "family-heading")
    assert "近 30 天发布 4 条" in family  # the school, below the street
    assert "最近成功采集 2024-05-19" in family


def test_unit_page_lists_sources_feeds_and_widget_code(client: TestClient, tree: Tree) -> None:
    html = client.get("/units/east").text
    sources = section(html, "sources-heading")
    assert "东城区政府网站" in sources and "微博 east123" in sources
    assert "停用的旧网站" not in sources
    assert links(html, "sources-heading") == ["http://127.0.0.1:8700/east/feed.xml"]  # no bridge:// link
    feeds = links(html, "feeds-heading")
    assert "http://127.0.0.1:8000/units/east/feed.rss" in feeds
    assert "http://127.0.0.1:8000/units/east/feed.atom?subtree=0" in feeds
    assert len(feeds) == 6
    document = lxml.html.fromstring(html)
    codes = [
        area.text_content()
        for area in document.xpath('//section[@aria-labelledby="widget-heading"]//textarea')
    ]
    assert codes[0].startswith('<iframe src="http://127.0.0.1:8000/widgets/latest?unit=east"')
    assert codes[1] == '<script src="http://127.0.0.1:8000/widgets/latest.js?unit=east" async></script>'
    assert [label.text_content() for label in document.xpath("//label[@for='snippet-1']")] == [
        "iframe 方式（无需脚本）"
    ]


def test_unit_page_with_and_without_its_subtree(client: TestClient, tree: Tree) -> None:
    notices = section(client.get("/units/east").text, "unit-notices-heading")
    assert "东城区开展消防检查" in notices and "学校活动简报第15期" in notices
    own = client.get("/units/east", params={"subtree": "0"}).text
    notices = section(own, "unit-notices-heading")
    assert "东城区开展消防检查" in notices and "学校活动简报" not in notices
    assert 'href="/units/east?subtree=0" aria-current="page"' in own
    assert '<link rel="canonical" href="http://127.0.0.1:8000/units/east?subtree=0">' in own


def test_unit_website_that_is_not_http_is_not_linked(client: TestClient, tree: Tree) -> None:
    html = client.get("/units/west").text
    assert "javascript:" not in html
    assert "单位网站" not in html


def test_directory_shows_the_tree_with_subtree_counts(client: TestClient, tree: Tree) -> None:
    page = client.get("/units")
    assert page.status_code == 200
    document = lxml.html.fromstring(page.text)
    school = document.xpath('//ul[@class="unit-tree"]//a[@href="/units/east-school"]')[0]
    chain = [li.xpath("./a/@href")[0] for li in school.iterancestors("li")]
    assert chain == ["/units/east-school", "/units/east-street", "/units/east", "/units/city"]

    def count(slug: str) -> str:
        anchor = document.xpath(f'//a[@href="/units/{slug}"]')[0]
        return str(anchor.getnext().text_content())

    # Approved notices of each unit and everything below it (the pending one is not counted).
    assert count("east-school") == "4 条"
    assert count("east") == "5 条"
    assert count("west") == "1 条"
    assert count("city") == "8 条"
    assert "共 5 个单位" in page.text
    assert document.xpath("//h1")[0].text_content() == "单位目录"


def test_unit_health_badges_from_source_counters(database: Database, tree: Tree) -> None:
    with database.session() as session:
        health = unit_health(session, [tree.city, tree.east, tree.street, tree.school])
    assert health[tree.city].status == "never"  # a source that never succeeded
    assert health[tree.east].status == "failing"
    assert (health[tree.east].sources, health[tree.east].failing, health[tree.east].worst_failures) == (
        2,
        1,
        3,
    )
    assert health[tree.east].last_success_at == LAST_CRAWL
    assert health[tree.street].status == "no_sources"
    assert health[tree.school].status == "ok"


def test_english_unit_page_and_directory(client: TestClient, tree: Tree) -> None:
    html = client.get("/units/east", params={"lang": "en"}).text
    assert "1 of 2 sources failing (3 crawls in a row at most)" in html
    assert "published in the last 30 days: 5" in html
    assert "Follow this unit" in html and "Widget code" in html
    assert "Unit directory" in client.get("/units").text


def test_without_search_the_unit_page_leaves_activity_out_and_home_counts_in_the_store(
    settings: Settings, database: Database, app: FastAPI, tree: Tree
) -> None:
    closed = open_backend(settings)
    closed.close()  # every call fails, as when the index is gone
    down = create_app(settings, database, closed)
    down.state.clock = lambda: NOW
    with TestClient(down) as client:
        page = client.get("/units/east")
        assert page.status_code == 200
        assert "近 30 天发布" not in page.text and "东城街道" in page.text
        assert "学校活动简报第15期" in section(page.text, "unit-notices-heading")  # read from the store
        home = client.get("/").text
        assert links(home, "active-heading") == ["/units/east-school", "/units/city", "/units/east"]


def test_most_active_units_agree_between_index_and_store(
    database: Database, app: FastAPI, tree: Tree
) -> None:
    since = datetime(2024, 4, 30, 16, 0, tzinfo=UTC)  # 1 May in Shanghai
    with database.session() as session:
        stored = [(entry.unit.slug, entry.count) for entry in most_active_units(session, since, 10)]
        indexed = [
            (entry.unit.slug, entry.count)
            for entry in indexed_most_active_units(session, app.state.backend, since, 10)
        ]
    assert stored == indexed == [("east-school", 4), ("city", 2), ("east", 1)]


def test_unit_notices_are_the_same_whichever_path_the_store_takes(database: Database, tree: Tree) -> None:
    with database.session() as session:
        for unit_id in (tree.city, tree.east, tree.school):
            unit = session.get(Unit, unit_id)
            assert unit is not None
            for subtree in (True, False):
                by_unit = [i.id for i in subtree_approved(session, unit, 5, subtree)]
                by_date = [i.id for i in subtree_approved(session, unit, 5, subtree, few_rows=0)]
                assert by_unit == by_date and by_unit, (unit.slug, subtree)


def test_unit_page_shows_the_health_sweeps_status_and_score_breakdown(
    client: TestClient, database: Database, tree: Tree
) -> None:
    with database.session() as session:
        session.add(
            UnitHealthSummary(
                unit_id=tree.east,
                status="stale",
                score=42.5,
                breakdown={
                    "frequency": {"value": 0.2, "weight": 0.25, "points": 10.04, "detail": ""},
                    "availability": {"value": None, "weight": 0.2, "points": None, "detail": "no probe"},
                },
            )
        )
    page = lxml.html.fromstring(client.get("/units/east").text)
    badge = page.cssselect(".badge-site-stale")
    assert badge and "久未更新" in badge[0].text_content() and "活跃度 42.5" in badge[0].text_content()
    rows = [
        [cell.text_content() for cell in row.cssselect("th, td")]
        for row in page.cssselect("table.score-breakdown tbody tr")
    ]
    # One number of decimals per column, so the figures line up (weights read 0.25 and 0.2).
    assert rows == [["更新频率", "0.25", "10.0"], ["可访问性", "0.20", "–"]]
    # A unit the sweep has not classified keeps only its crawl facts.
    assert not lxml.html.fromstring(client.get("/units/street").text).cssselect(
        ".badge-site-stale, .score-breakdown"
    )


def _count_of(html: str, slug: str) -> str:
    anchor = lxml.html.fromstring(html).xpath(f'//ul[@class="unit-tree"]//a[@href="/units/{slug}"]')[0]
    return str(anchor.getnext().text_content())


def test_directory_counts_a_notice_published_after_it_was_rendered(
    app: FastAPI, client: TestClient, database: Database, tree: Tree
) -> None:
    assert _count_of(client.get("/units").text, "west") == "1 条"  # rendered and kept
    with database.session() as session:
        pending = session.scalars(select(Item.id).where(Item.title == "西城区待审稿件")).one()
        approve(session, pending, REVIEWER)
    drain_outbox(database, app.state.backend)  # the index's public total moves: the tree is built again
    html = client.get("/units").text
    assert _count_of(html, "west") == "2 条" and _count_of(html, "city") == "9 条"
    english = client.get("/units", params={"lang": "en"}).text  # kept per language
    assert _count_of(english, "west") == "notices: 2"


def test_directory_kept_tree_lasts_a_minute_at_most(
    app: FastAPI, client: TestClient, database: Database, tree: Tree
) -> None:
    assert "西城区委" in client.get("/units").text
    with database.session() as session:  # a rename moves no marker: only the time limit catches it
        west = session.get(Unit, tree.west)
        assert west is not None
        west.name = "西城区委员会"
    assert "西城区委员会" not in client.get("/units").text
    app.state.clock = lambda: NOW + timedelta(seconds=61)
    assert "西城区委员会" in client.get("/units").text
