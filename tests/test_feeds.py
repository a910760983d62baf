"""Our feeds: every kind in RSS, Atom and JSON Feed, read back by feedparser (and our own crawler's JSON
Feed reader), approved items only, inert content, WebSub Link headers, and conditional GET."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.feeds.spec import FeedSpec, parse_topic
from api.search import SearchParams
from crawlers.feeds import parse_feed
from hub.db import Database
from hub.ingest import ingest
from hub.models import Item, Source
from hub.rawitem import RawItem
from index.outbox import drain_outbox
from moderation.service import approve, withdraw
from tests.fixtures.web import REVIEWER, PortalData, seed_portal

BASE = "http://127.0.0.1:8000"  # web.base_url of the test settings
HOSTILE_HTML = (
    '<p>正文<img src="x.png" onerror="alert(1)"><a href="javascript:alert(2)">点此</a></p>'
    "<script>alert(3)</script><iframe src='http://evil.example/'></iframe>"
)


@dataclass(frozen=True, slots=True)
class FeedData:
    portal: PortalData
    city_item: int  # approved, city level, category 通知公告 from its source
    withdrawn_item: int  # approved, then withdrawn


@pytest.fixture
def feed_data(app: FastAPI, database: Database) -> FeedData:
    """The portal seed plus a city-level notice (category from its source) and a withdrawn one."""
    portal = seed_portal(database, app.state.backend)
    with database.session() as session:
        source = Source(
            unit_id=portal.city_id,
            name="市委通知",
            kind="feed",
            url="http://127.0.0.1:8700/city/feed.xml",
            category="通知公告",
        )
        session.add(source)
        session.flush()
        city = ingest(
            session,
            RawItem(
                source_id=source.id,
                url="http://127.0.0.1:8700/city/n/9.html",
                title="全市党建工作会议通知",
                html="<p>全市党建工作会议将于下周召开。</p>",
                published_at=datetime(2024, 5, 7, 2, 0, tzinfo=UTC),
                date_source="label",
            ),
        ).item_id
        gone = ingest(
            session,
            RawItem(
                source_id=source.id,
                url="http://127.0.0.1:8700/city/n/10.html",
                title="已撤下的党建通知",
                html="<p>撤下</p>",
                published_at=datetime(2024, 5, 8, 2, 0, tzinfo=UTC),
                date_source="label",
            ),
        ).item_id
        approve(session, city, REVIEWER)
        approve(session, gone, REVIEWER)
        withdraw(session, gone, REVIEWER, "发布有误")
        # A sanitizer bypass at ingest must still not reach a feed reader: store hostile HTML as is.
        session.execute(update(Item).where(Item.id == portal.hostile_item).values(html=HOSTILE_HTML))
    drain_outbox(database, app.state.backend)
    return FeedData(portal, city, gone)


def _parse(client: TestClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, (path, response.text[:300])
    parsed = feedparser.parse(
        response.content, response_headers={"content-type": response.headers["content-type"]}
    )
    assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    return parsed


def _titles(parsed: Any) -> list[str]:
    return [entry.title for entry in parsed.entries]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_every_xml_feed_kind_parses_and_lists_only_approved_items(
    client: TestClient, feed_data: FeedData, fmt: str
) -> None:
    everything = _parse(client, f"/feed.{fmt}")
    assert everything.version == ("rss20" if fmt == "rss" else "atom10")
    assert _titles(everything)[0] == "全市党建工作会议通知"  # newest first
    assert set(_titles(everything)) == {
        "全市党建工作会议通知",
        "学校召开党建工作推进会",
        "Volunteer day",
        "<script>alert('x')</script>通知",  # the hostile title is text, never markup
    }
    city_subtree = _parse(client, f"/units/city/feed.{fmt}")
    assert set(_titles(city_subtree)) == set(_titles(everything))
    city_only = _parse(client, f"/units/city/feed.{fmt}?subtree=0")
    assert _titles(city_only) == ["全市党建工作会议通知"]
    branch = _parse(client, f"/units/east-school/feed.{fmt}?subtree=0")
    assert "学校召开党建工作推进会" in _titles(branch) and "全市党建工作会议通知" not in _titles(branch)
    category = _parse(client, f"/categories/%E9%80%9A%E7%9F%A5%E5%85%AC%E5%91%8A/feed.{fmt}")
    assert _titles(category) == ["全市党建工作会议通知"]  # the source's category stands for the item's
    search = _parse(client, f"/search/feed.{fmt}?q=%E5%85%9A%E5%BB%BA&page=3")
    assert set(_titles(search)) == {"全市党建工作会议通知", "学校召开党建工作推进会"}
    for parsed in (everything, city_subtree, city_only, branch, category, search):
        assert "待审核的党建简报" not in _titles(parsed) and "已撤下的党建通知" not in _titles(parsed)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_xml_entries_carry_links_ids_dates_author_and_attachments(
    client: TestClient, feed_data: FeedData, fmt: str
) -> None:
    parsed = _parse(client, f"/units/east/feed.{fmt}")
    assert parsed.feed.title == "东城区委及下级单位 · 发布"
    feed_links = {link["rel"]: link["href"] for link in parsed.feed.links}
    assert feed_links["self"] == f"{BASE}/units/east/feed.{fmt}"
    assert feed_links["hub"] == f"{BASE}/websub/hub"
    assert feed_links["alternate"] == f"{BASE}/units/east"
    entry = next(e for e in parsed.entries if e.title == "学校召开党建工作推进会")
    item_url = f"{BASE}/items/{feed_data.portal.party_item}"
    assert entry.link == item_url and entry.id == item_url
    assert entry.author == "东城实验学校党支部"
    # 01:30 UTC is shown in Asia/Shanghai
    published = entry.published
    assert published in ("Mon, 06 May 2024 09:30:00 +0800", "2024-05-06T09:30:00+08:00")
    assert entry.published_parsed[:5] == (2024, 5, 6, 1, 30)  # feedparser normalizes to UTC
    if fmt == "atom":
        assert entry.updated_parsed is not None
    assert "<b>党建</b>" in entry.content[0].value
    enclosures = [(e.href, e.type) for e in entry.enclosures]
    assert enclosures == [("http://127.0.0.1:8700/f/plan.pdf", "application/pdf")]
    if fmt == "atom":
        related = [link.href for link in entry.links if link.rel == "related"]
        assert related == ["http://127.0.0.1:8700/n/1.html"]  # the original page


def test_json_feed_follows_version_1_1_and_reads_back(client: TestClient, feed_data: FeedData) -> None:
    response = client.get("/units/city/feed.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/feed+json; charset=utf-8"
    feed = json.loads(response.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == f"{BASE}/units/city/feed.json"
    assert feed["home_page_url"] == f"{BASE}/units/city"
    assert feed["hubs"] == [{"type": "WebSub", "url": f"{BASE}/websub/hub"}]
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["url"] == item["id"]
        assert item["date_published"].endswith("+08:00")
        datetime.fromisoformat(item["date_published"])  # RFC 3339
        assert item["authors"][0]["name"]
    party = next(i for i in feed["items"] if i["title"] == "学校召开党建工作推进会")
    assert party["external_url"] == "http://127.0.0.1:8700/n/1.html"
    assert party["date_published"] == "2024-05-06T09:30:00+08:00"
    assert party["attachments"] == [
        {"url": "http://127.0.0.1:8700/f/plan.pdf", "mime_type": "application/pdf", "title": "工作方案.pdf"}
    ]
    city = next(i for i in feed["items"] if i["title"] == "全市党建工作会议通知")
    assert city["tags"] == ["通知公告"]
    # Our crawler reads it as any other unit's JSON Feed: another hub could link to this one. (Not
    # feedparser: its releases up to 6.0.14 read no JSON Feed; only its unreleased develop branch does.)
    parsed = parse_feed(response.content, 1, feed["feed_url"])
    assert parsed.hub_url == f"{BASE}/websub/hub" and parsed.self_url == feed["feed_url"]
    assert {e.item.title for e in parsed.entries} == {i["title"] for i in feed["items"]}


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_no_script_handler_or_javascript_url_survives_in_any_feed(
    client: TestClient, feed_data: FeedData, fmt: str
) -> None:
    for path in (
        f"/feed.{fmt}",
        f"/units/east-school/feed.{fmt}",
        f"/search/feed.{fmt}?q=%E9%80%9A%E7%9F%A5",
    ):
        response = client.get(path)
        assert response.status_code == 200
        body = response.content.decode("utf-8")
        decoded = json.dumps(json.loads(body), ensure_ascii=False) if fmt == "json" else body
        text = decoded.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
        # The hostile title is allowed as text (escaped); its body's active parts are gone.
        assert "alert(1)" not in text and "alert(2)" not in text and "alert(3)" not in text, path
        assert "onerror" not in text and "javascript:" not in text and "<iframe" not in text, path
        assert text.count("<script>") == text.count("<script>alert('x')</script>通知"), path
    if fmt != "json":
        parsed = _parse(client, f"/units/east-school/feed.{fmt}")
        hostile = next(e for e in parsed.entries if e.title.endswith("通知"))
        assert "点此" in hostile.content[0].value and "<script" not in hostile.content[0].value


def test_feed_headers_advertise_hub_and_self_and_allow_caching(
    client: TestClient, feed_data: FeedData
) -> None:
    response = client.get("/units/city/feed.atom", params={"subtree": "1"})
    assert response.headers["link"] == (
        f'<{BASE}/websub/hub>; rel="hub", <{BASE}/units/city/feed.atom>; rel="self"'
    )
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["etag"].startswith('"') and not response.headers["etag"].startswith("W/")
    assert response.headers["last-modified"].endswith(" GMT")
    search = client.get("/search/feed.rss", params={"q": "党建", "unit": "city", "page": "2", "sort": "date"})
    assert f'<{BASE}/search/feed.rss?q=%E5%85%9A%E5%BB%BA&unit=city>; rel="self"' in search.headers["link"]


def test_conditional_get_answers_304_until_the_feed_changes(
    client: TestClient, feed_data: FeedData, database: Database, app: FastAPI
) -> None:
    first = client.get("/units/east/feed.rss")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get("/units/east/feed.rss", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and 'rel="hub"' in again.headers["link"]
    assert (
        client.get("/units/east/feed.rss", headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    )
    assert client.get("/units/east/feed.rss", headers={"If-Modified-Since": modified}).status_code == 304
    # If-None-Match wins: a stale ETag gets the document even with a current date.
    stale = client.get(
        "/units/east/feed.rss", headers={"If-None-Match": '"stale"', "If-Modified-Since": modified}
    )
    assert stale.status_code == 200 and stale.content == first.content
    # The same items in another format are another document: another ETag.
    assert client.get("/units/east/feed.atom").headers["etag"] != etag
    with database.session() as session:
        approve(session, feed_data.portal.pending_item, REVIEWER)
    changed = client.get("/units/east/feed.rss", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "待审核的党建简报" in changed.text
    newer = changed.headers["etag"]
    with database.session() as session:
        withdraw(session, feed_data.portal.english_item, REVIEWER, "过期")
    after = client.get("/units/east/feed.rss", headers={"If-None-Match": newer})
    assert after.status_code == 200 and "Volunteer day" not in after.text


def test_unknown_unit_or_format_is_404(client: TestClient, feed_data: FeedData) -> None:
    assert client.get("/units/nowhere/feed.rss").status_code == 404
    assert client.get("/feed.xml").status_code == 404
    assert client.get("/units/city/feed.html").status_code == 404
    assert client.get("/search/feed.json", params={"q": "党建", "unit": "nowhere"}).json()["items"] == []


def test_search_page_links_its_feed(client: TestClient, feed_data: FeedData) -> None:
    page = client.get("/search", params={"q": "zzzz", "unit": "east", "page": "2"})
    assert 'href="/search/feed.rss?q=zzzz&amp;unit=east"' in page.text
    assert 'href="/search/feed.atom?q=zzzz&amp;unit=east"' in page.text
    assert 'href="/search/feed.json?q=zzzz&amp;unit=east"' in page.text


def test_topics_parse_back_to_canonical_feed_urls() -> None:
    assert parse_topic(f"{BASE}/feed.atom", BASE) == FeedSpec("all", "atom")
    unit = parse_topic(f"{BASE}/units/east/feed.rss?subtree=1", BASE)
    assert unit == FeedSpec("unit", "rss", unit="east") and unit.url(BASE) == f"{BASE}/units/east/feed.rss"
    assert parse_topic(f"{BASE}/units/east/feed.rss?subtree=0", BASE) == FeedSpec(
        "unit", "rss", unit="east", subtree=False
    )
    category = parse_topic(f"{BASE}/categories/%E9%80%9A%E7%9F%A5/feed.json", BASE)
    assert category == FeedSpec("category", "json", category="通知")
    search = parse_topic(f"{BASE}/search/feed.rss?q=%E5%85%9A%E5%BB%BA&page=4&sort=date&unit=east", BASE)
    assert search is not None and search.search == SearchParams(q="党建", unit="east")
    assert search.url(BASE) == f"{BASE}/search/feed.rss?q=%E5%85%9A%E5%BB%BA&unit=east"
    for foreign in (
        "http://evil.example/feed.rss",
        f"{BASE}/items/1",
        f"{BASE}/feed.xml",
        f"{BASE}/search/feed.rss?since=yesterday",
        "https://127.0.0.1:8000/feed.rss",
    ):
        assert parse_topic(foreign, BASE) is None, foreign
