"""The units API (/api/v1/units): the directory with its filters and paging, one unit as its portal page
shows it (breadcrumb, children, public source fields, feeds, widgets, counts), the unit's approved items
by cursor, and errors in the app's JSON shape."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.schemas import SearchOut
from hub.db import Database
from hub.ingest import ingest
from hub.models import Role, Source, Unit
from hub.rawitem import RawItem
from hub.settings import Settings
from moderation.service import approve
from tests.fixtures.web import STAFF_PASSWORD, PortalData, add_user

BRIDGE_KEY = "bridge-key-7f3a9c"
FEED_TOKEN = "t0ken-of-the-feed"
PAGING = {"total", "page", "page_size", "pages", "items", "next_cursor"}


def _slugs(body: dict[str, object]) -> list[str]:
    items = body["items"]
    assert isinstance(items, list)
    return [unit["slug"] for unit in items]


def test_every_list_pages_with_the_search_results_shape(client: TestClient, portal_data: PortalData) -> None:
    search = client.get("/api/v1/search", params={"q": "党建"}).json()
    assert set(search) >= PAGING and set(SearchOut.model_fields) >= PAGING
    units = client.get("/api/v1/units").json()
    items = client.get(f"/api/v1/units/{portal_data.city_id}/items").json()
    assert set(units) == PAGING and set(items) == PAGING


def test_the_directory_filters_and_pages(client: TestClient, portal_data: PortalData) -> None:
    every = client.get("/api/v1/units").json()
    assert every["total"] == 3 and _slugs(every) == ["city", "east", "east-school"]  # tree order
    assert every["items"][1]["parent_id"] == portal_data.city_id
    assert every["items"][0]["portal_url"].endswith("/units/city")

    assert _slugs(client.get("/api/v1/units", params={"level": "district"}).json()) == ["east"]
    assert _slugs(client.get("/api/v1/units", params={"parent": "east"}).json()) == ["east-school"]
    assert _slugs(client.get("/api/v1/units", params={"parent": str(portal_data.city_id)}).json()) == ["east"]
    assert _slugs(client.get("/api/v1/units", params={"q": "东城"}).json()) == ["east", "east-school"]
    assert _slugs(client.get("/api/v1/units", params={"q": "SCHOOL"}).json()) == ["east-school"]
    assert _slugs(client.get("/api/v1/units", params={"type": "school"}).json()) == []
    assert _slugs(client.get("/api/v1/units", params={"region": "1101"}).json()) == []

    second = client.get("/api/v1/units", params={"limit": 2, "page": 2}).json()
    assert (second["total"], second["page"], second["page_size"], second["pages"]) == (3, 2, 2, 2)
    assert _slugs(second) == ["east-school"] and second["next_cursor"] is None


def test_region_is_a_prefix_of_the_division_code(
    client: TestClient, database: Database, portal_data: PortalData
) -> None:
    with database.session() as session:
        for unit_id, code in ((portal_data.district_id, "110101"), (portal_data.branch_id, "110101003")):
            unit = session.get(Unit, unit_id)
            assert unit is not None
            unit.region_code = code
    assert _slugs(client.get("/api/v1/units", params={"region": "110101"}).json()) == ["east", "east-school"]
    assert _slugs(client.get("/api/v1/units", params={"region": "110101003"}).json()) == ["east-school"]


@pytest.fixture
def account(database: Database, portal_data: PortalData) -> None:
    """The branch also has a Weibo account (read through the bridge), a feed read with a token and a
    disabled feed."""
    with database.session() as session:
        session.add(
            Source(
                unit_id=portal_data.branch_id,
                name="学校微博",
                kind="account",
                url="bridge://weibo/school123",
                platform="weibo",
                account_id="school123",
            )
        )
        session.add(
            Source(
                unit_id=portal_data.branch_id,
                name="内部订阅",
                kind="feed",
                url=f"http://127.0.0.1:8700/s/private.xml?token={FEED_TOKEN}",
            )
        )
        session.add(
            Source(
                unit_id=portal_data.branch_id,
                name="旧网站",
                kind="html",
                url="http://127.0.0.1:8700/old/",
                enabled=False,
            )
        )


def test_a_unit_with_its_place_in_the_tree_feeds_widgets_and_counts(
    client: TestClient, portal_data: PortalData
) -> None:
    by_slug = client.get("/api/v1/units/east")
    by_id = client.get(f"/api/v1/units/{portal_data.district_id}")
    assert by_slug.status_code == 200 and by_slug.json() == by_id.json()
    east = by_slug.json()
    assert [unit["slug"] for unit in east["breadcrumb"]] == ["city", "east"]
    assert [child["slug"] for child in east["children"]] == ["east-school"]
    assert east["counts"] == {
        "children": 1,
        "units_below": 1,
        "sources": 0,
        "approved_items": 0,  # its own: none; the branch's three approved (not the pending one)
        "approved_items_subtree": 3,
    }
    assert east["health"]["status"] == "no_sources"
    assert {feed["format"] for feed in east["feeds"]} == {"rss", "atom", "json"}
    rss = next(feed for feed in east["feeds"] if feed["format"] == "rss")
    assert rss["subtree"].endswith("/units/east/feed.rss") and rss["own"].endswith(
        "/units/east/feed.rss?subtree=0"
    )
    assert rss["media_type"] == "application/rss+xml"
    feed = client.get("/units/east/feed.rss")  # the advertised feed serves the subtree's items
    assert feed.status_code == 200 and "学校召开党建工作推进会" in feed.text
    assert "unit=east" in east["widget"]["iframe_url"] and east["widget"]["data_url"].split("?")[0].endswith(
        "/widgets/latest.json"
    )
    assert "<iframe" in east["widget"]["iframe_html"] and "latest.js" in east["widget"]["script_html"]
    assert east["items_url"].endswith(f"/api/v1/units/{portal_data.district_id}/items")

    branch = client.get("/api/v1/units/east-school").json()
    assert [unit["slug"] for unit in branch["breadcrumb"]] == ["city", "east", "east-school"]
    assert branch["counts"]["approved_items"] == branch["counts"]["approved_items_subtree"] == 3
    assert branch["health"]["status"] == "never" and branch["health"]["sources"] == 1


def test_the_public_sees_public_source_fields_and_staff_the_disabled_ones(
    app: FastAPI, client: TestClient, database: Database, settings: Settings, account: None
) -> None:
    settings.bridge.base_url = "http://127.0.0.1:1200"
    settings.bridge.access_key = BRIDGE_KEY  # type: ignore[assignment]
    public = client.get("/api/v1/units/east-school")
    assert BRIDGE_KEY not in public.text and "bridge://" not in public.text
    sources = {source["name"]: source for source in public.json()["sources"]}
    assert set(sources) == {"学校新闻", "学校微博", "内部订阅"}  # the disabled one is not listed
    weibo = sources["学校微博"]
    assert (weibo["url"], weibo["platform"], weibo["account_id"]) == (None, "weibo", "school123")
    assert sources["学校新闻"]["url"] == "http://127.0.0.1:8700/s/feed.xml"
    # A source read with a credential in its URL is named, not linked: on the API and on the page.
    assert sources["内部订阅"]["url"] is None and FEED_TOKEN not in public.text
    page = client.get("/units/east-school").text
    assert "内部订阅" in page and FEED_TOKEN not in page and "private.xml" not in page
    assert all(source["enabled"] is None for source in sources.values())

    add_user(database, "viewer", Role.VIEWER)
    client.auth = ("viewer", STAFF_PASSWORD)
    staff = client.get("/api/v1/units/east-school").json()
    enabled = {source["name"]: source["enabled"] for source in staff["sources"]}
    assert enabled == {"学校新闻": True, "学校微博": True, "内部订阅": True, "旧网站": False}
    assert staff["counts"]["sources"] == 4 and BRIDGE_KEY not in str(staff)


def _undated(database: Database, portal_data: PortalData, count: int) -> list[int]:
    """Approved items of the branch without a publication date (listed after the dated ones)."""
    ids = []
    with database.session() as session:
        source = session.query(Source).filter_by(unit_id=portal_data.branch_id, kind="feed").one()
        for n in range(count):
            raw = RawItem(
                source_id=source.id,
                url=f"http://127.0.0.1:8700/undated/{n}.html",
                title=f"无日期通知{n}",
                html=f"<p>无日期 {n}</p>",
                published_at=None,
                date_source="none",
            )
            item_id = ingest(session, raw, now=datetime(2024, 6, 1, 8, n, tzinfo=UTC)).item_id
            approve(session, item_id, "reviewer")
            ids.append(item_id)
    return ids


def test_a_units_items_by_cursor_newest_first_undated_last(
    client: TestClient, database: Database, portal_data: PortalData
) -> None:
    undated = _undated(database, portal_data, 2)
    seen: list[int] = []
    cursor = ""
    pages = 0
    while True:
        body = client.get(
            f"/api/v1/units/{portal_data.city_id}/items", params={"limit": 2, "cursor": cursor}
        ).json()
        assert body["total"] == 5 and body["page_size"] == 2
        seen += [item["id"] for item in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    assert pages == 3 and len(seen) == len(set(seen)) == 5
    assert portal_data.pending_item not in seen
    assert seen[-2:] == sorted(undated, reverse=True)  # undated last, newest first seen first
    dated = {portal_data.party_item, portal_data.english_item, portal_data.hostile_item}
    assert set(seen[:3]) == dated and seen[:3] == sorted(dated, reverse=True)  # same date: by id

    by_page = client.get(f"/api/v1/units/{portal_data.city_id}/items", params={"limit": 2, "page": 2}).json()
    assert [item["id"] for item in by_page["items"]] == seen[2:4] and by_page["pages"] == 3
    item = by_page["items"][0]
    assert item["unit"]["slug"] == "east-school" and item["portal_url"].endswith(f"/items/{item['id']}")

    own = client.get(f"/api/v1/units/{portal_data.city_id}/items", params={"subtree": "false"}).json()
    assert own["total"] == 0 and own["items"] == [] and own["pages"] == 1


def _error_shape(response: httpx.Response) -> object:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail"}, body
    return body["detail"]


def test_errors_have_the_apps_json_shape(client: TestClient, portal_data: PortalData) -> None:
    assert _error_shape(client.get("/api/v1/units/nowhere")) == "no such unit"
    assert _error_shape(client.get("/api/v1/units/nowhere/items")) == "no such unit"
    assert _error_shape(client.get("/api/v1/units", params={"parent": "nowhere"})) == "no such unit"
    assert _error_shape(client.get("/api/v1/units/99999999999")) == "no such unit"  # no id, no overflow
    for key in ("²", "①", "٣", "+1", "1_0"):  # str.isdigit() or int() accept these; they are no unit id
        for path in (f"/api/v1/units/{key}", f"/api/v1/units/{key}/items"):
            answer = client.get(path)
            assert answer.status_code == 404 and _error_shape(answer) == "no such unit", path
    bad_level = client.get("/api/v1/units", params={"level": "planet"})
    assert bad_level.status_code == 422
    detail = _error_shape(bad_level)
    assert isinstance(detail, list) and detail[0]["loc"] == ["query", "level"]
    cursor = client.get("/api/v1/units/city/items", params={"cursor": "not-ours"})
    assert cursor.status_code == 400 and "cursor" in str(_error_shape(cursor))
    client.auth = ("nobody", "wrong")  # wrong credentials are a 401 even where anonymous may read
    refused = client.get("/api/v1/units/city")
    assert refused.status_code == 401 and _error_shape(refused)
