"""The sources JSON API (/api/v1/sources, issue 6) against the sample network on loopback: list with
filters and pages, get, create, patch, test (edited selectors change the result; nothing stored) and
discover, through the same service as the staff pages; admin-only writes, moderators test within their
units, viewers read; errors in the app's {"detail": ...} shape; every operation in OpenAPI."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hub.apitokens import create_token
from hub.db import Database
from hub.models import Item, Role, Source, Unit
from hub.registry import import_registry
from hub.users import find_user
from samplenet.server import RunningNetwork
from tests.fixtures.web import add_user


@pytest.fixture
def registry(database: Database, sample_registry_file: Path) -> None:
    """The sample network's units and their one source each (the city's list page is not one)."""
    with database.session() as session:
        import_registry(session, sample_registry_file)
    add_user(database, "boss", Role.ADMIN)
    add_user(database, "alice", Role.MODERATOR)
    add_user(database, "watcher", Role.VIEWER)
    with database.session() as session:
        d02 = session.scalar(select(Unit.id).where(Unit.slug == "d02"))
    add_user(database, "d02-mod", Role.MODERATOR, unit_scope_id=d02)


@pytest.fixture
def tokens(database: Database, registry: None) -> dict[str, str]:
    """An API token per seeded user (a bearer token is checked without argon2: quicker tests)."""
    with database.session() as session:
        return {
            name: create_token(session, user).secret
            for name in ("boss", "alice", "watcher", "d02-mod")
            if (user := find_user(session, name)) is not None
        }


def as_user(client: TestClient, tokens: dict[str, str], username: str) -> TestClient:
    client.headers["Authorization"] = f"Bearer {tokens[username]}"
    return client


def counts(database: Database) -> tuple[int, int]:
    """(sources, items) in the store."""
    with database.session() as session:
        return (
            session.scalar(select(func.count(Source.id))) or 0,
            session.scalar(select(func.count(Item.id))) or 0,
        )


def new_source(base: str, **fields: object) -> dict[str, object]:
    return {
        "unit": "city",
        "name": "市政府通知公告",
        "kind": "html",
        "url": f"{base}/sites/city/list.html",
    } | fields


def test_list_filters_and_pages(client: TestClient, database: Database, tokens: dict[str, str]) -> None:
    api = as_user(client, tokens, "watcher")  # any staff member may read
    with database.session() as session:
        total = session.scalar(select(func.count(Source.id)))
    first = api.get("/api/v1/sources", params={"limit": 5})
    assert first.status_code == 200
    body = first.json()
    assert (body["total"], body["page"], body["page_size"], len(body["items"])) == (total, 1, 5, 5)
    assert body["pages"] == -(-total // 5) and body["next_cursor"] is None
    last = api.get("/api/v1/sources", params={"limit": 5, "page": body["pages"]}).json()
    seen = {row["id"] for row in body["items"]} | {row["id"] for row in last["items"]}
    assert len(seen) == 5 + len(last["items"])  # pages do not overlap
    row = body["items"][0]
    assert row["unit"]["slug"] == "city" and row["status"] == "unknown" and row["enabled"] is True

    below = api.get("/api/v1/sources", params={"unit": "d02"}).json()
    only = api.get("/api/v1/sources", params={"unit": "d02", "below": "false"}).json()
    assert only["total"] == 1 and below["total"] > 1
    assert {item["unit"]["slug"] for item in below["items"]} >= {"d02", "d02-b04"}
    accounts = api.get("/api/v1/sources", params={"kind": "account"}).json()
    assert accounts["total"] == 2 and {item["kind"] for item in accounts["items"]} == {"account"}
    assert api.get("/api/v1/sources", params={"q": "sitemap_index"}).json()["total"] == 1
    assert api.get("/api/v1/sources", params={"enabled": "false"}).json()["total"] == 0

    missing = api.get("/api/v1/sources", params={"unit": "nowhere"})
    assert missing.status_code == 404 and missing.json() == {"detail": "no unit 'nowhere'"}
    assert api.get("/api/v1/sources", params={"status": "bogus"}).status_code == 422
    assert api.get("/api/v1/sources", params={"limit": 1000}).status_code == 422


def test_create_get_patch_and_test(
    client: TestClient, database: Database, tokens: dict[str, str], sample_server: RunningNetwork
) -> None:
    base = sample_server.base_url
    city = next(site for site in sample_server.network.sites if site.slug == "city")
    api = as_user(client, tokens, "boss")
    before = counts(database)

    # Test before creating: nothing stored.
    tried = api.post(
        "/api/v1/sources/test", json={"kind": "html", "url": f"{base}/sites/city/list.html", "limit": 3}
    )
    assert tried.status_code == 200, tried.text
    assert [item["title"] for item in tried.json()["items"]] == [item.title for item in city.items[:3]]
    assert tried.json()["stored"] is False and counts(database) == before

    created = api.post("/api/v1/sources", json=new_source(base, check_interval_s=1800))
    assert created.status_code == 201, created.text
    source = created.json()
    assert created.headers["location"].endswith(f"/api/v1/sources/{source['id']}")
    assert (source["kind"], source["enabled"], source["check_interval_s"]) == ("html", True, 1800)
    assert source["staff_url"].endswith(f"/staff/sources/{source['id']}")
    assert api.get(f"/api/v1/sources/{source['id']}").json() == source
    assert counts(database) == (before[0] + 1, 0)

    test_url = f"/api/v1/sources/{source['id']}/test"
    as_is = api.post(test_url, json={"limit": 4}).json()
    assert [item["title"] for item in as_is["items"]] == [item.title for item in city.items[:4]]
    assert as_is["items"][0]["date_source"] == "label" and as_is["items"][0]["text"]
    edited = api.post(test_url, json={"selectors": {"title": "div.header a"}, "limit": 4}).json()
    assert [item["title"] for item in edited["items"]] == [city.name] * 4
    assert api.post(test_url).status_code == 200  # no body: the source as stored
    with database.session() as session:
        stored = session.get(Source, source["id"])
        assert stored is not None and stored.selectors == {}
    assert counts(database) == (before[0] + 1, 0)

    patched = api.patch(
        f"/api/v1/sources/{source['id']}",
        json={"selectors": {"title": "div.header a", "guid": "url"}, "enabled": False, "name": "改名"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["selectors"] == {"title": "div.header a", "guid": "url"}
    assert (patched.json()["enabled"], patched.json()["name"], patched.json()["kind"]) == (
        False,
        "改名",
        "html",
    )
    stored_test = api.post(test_url, json={"limit": 2}).json()
    assert [item["title"] for item in stored_test["items"]] == [city.name] * 2


def test_invalid_sources_get_422_with_the_field(
    client: TestClient, database: Database, tokens: dict[str, str], sample_server: RunningNetwork
) -> None:
    base = sample_server.base_url
    api = as_user(client, tokens, "boss")
    before = counts(database)

    def problems(response: object) -> dict[str, str]:
        assert response.status_code == 422, response.text  # type: ignore[attr-defined]
        return {entry["loc"][-1]: entry["msg"] for entry in response.json()["detail"]}  # type: ignore[attr-defined]

    bad = problems(api.post("/api/v1/sources", json=new_source(base, url="ftp://x", unit="nowhere")))
    assert "not an http(s) URL" in bad["url"] and bad["unit"] == "no unit 'nowhere'"
    taken = problems(api.post("/api/v1/sources", json=new_source(base, url=f"{base}/sites/city/rss.xml")))
    assert "already registered as source" in taken["url"]
    kind = problems(api.post("/api/v1/sources", json=new_source(base, kind="podcast")))
    assert "kind" in kind
    selector = problems(api.post("/api/v1/sources", json=new_source(base, selectors={"item": "ul[["})))
    assert "item: not a valid CSS selector" in selector["selectors"]
    guid = problems(api.post("/api/v1/sources", json=new_source(base, selectors={"guid": "sometimes"})))
    assert "unknown guid policy" in guid["selectors"]
    interval = problems(api.post("/api/v1/sources", json=new_source(base, check_interval_s=5)))
    assert "check_interval_s" in interval
    # PostgreSQL refuses NUL in text: a 422 naming the field, not a 500 from the store.
    nul = problems(api.post("/api/v1/sources", json=new_source(base, name="a\x00b", unit="ci\x00ty")))
    assert nul["name"] == "contains a NUL character" and "no unit" in nul["unit"]
    refused = api.get("/api/v1/sources", params={"q": "a\x00b"})  # no URL may carry NUL (api/nulguard.py)
    assert refused.status_code == 400 and refused.json() == {"detail": "the URL holds a NUL character"}
    extra = api.post("/api/v1/sources", json=new_source(base, colour="red"))
    assert extra.status_code == 422  # unknown fields are refused by the schema
    assert counts(database) == before

    with database.session() as session:
        feed_id = session.scalar(select(Source.id).where(Source.url == f"{base}/sites/d01/atom.xml"))
    moved = problems(api.patch(f"/api/v1/sources/{feed_id}", json={"url": f"{base}/sites/city/rss.xml"}))
    assert "already registered" in moved["url"]
    tested = problems(api.post(f"/api/v1/sources/{feed_id}/test", json={"url": "javascript:alert(1)"}))
    assert "url" in tested
    missing = api.get("/api/v1/sources/999999")
    assert missing.status_code == 404 and missing.json() == {"detail": "no source 999999"}
    assert (
        api.get("/api/v1/sources/0").status_code == 422
        and api.get(f"/api/v1/sources/{2**40}").status_code == 422
    )


def test_discover_marks_registered_proposals(
    client: TestClient, database: Database, tokens: dict[str, str], sample_server: RunningNetwork
) -> None:
    base = sample_server.base_url
    api = as_user(client, tokens, "alice")  # moderators may discover: it stores nothing
    before = counts(database)
    found = api.post("/api/v1/sources/discover", json={"url": f"{base}/sites/city/"})
    assert found.status_code == 200, found.text
    proposals = {proposal["kind"]: proposal for proposal in found.json()["proposals"]}
    assert set(proposals) == {"feed", "sitemap", "html"}
    with database.session() as session:
        feed_id = session.scalar(select(Source.id).where(Source.url == f"{base}/sites/city/rss.xml"))
    assert proposals["feed"]["registered_source_id"] == feed_id
    assert proposals["html"]["registered_source_id"] is None and len(proposals["html"]["preview"]) == 5
    assert counts(database) == before
    bad = api.post("/api/v1/sources/discover", json={"url": "file:///etc/passwd"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "url"]


def test_roles(
    client: TestClient, database: Database, tokens: dict[str, str], sample_server: RunningNetwork
) -> None:
    base = sample_server.base_url
    with database.session() as session:
        city_feed = session.scalar(select(Source.id).where(Source.url == f"{base}/sites/city/rss.xml"))
        d02_feed = session.scalar(select(Source.id).join(Unit).where(Unit.slug == "d02"))
    before = counts(database)

    anonymous = client.get("/api/v1/sources")
    assert anonymous.status_code == 401 and anonymous.json() == {"detail": "authentication required"}
    assert client.post("/api/v1/sources", json=new_source(base)).status_code == 401

    viewer = as_user(client, tokens, "watcher")
    assert viewer.get(f"/api/v1/sources/{city_feed}").status_code == 200
    for method, path in (
        ("POST", "/api/v1/sources"),
        ("PATCH", f"/api/v1/sources/{city_feed}"),
        ("POST", f"/api/v1/sources/{city_feed}/test"),
        ("POST", "/api/v1/sources/discover"),
    ):
        answer = viewer.request(method, path, json={})
        assert answer.status_code == 403 and "viewer" in answer.json()["detail"], (method, path)

    moderator = as_user(client, tokens, "alice")
    assert moderator.post("/api/v1/sources", json=new_source(base)).status_code == 403
    assert moderator.patch(f"/api/v1/sources/{city_feed}", json={"enabled": False}).status_code == 403
    assert moderator.post("/api/v1/sources/test", json={"kind": "feed", "url": base}).status_code == 403

    scoped = as_user(client, tokens, "d02-mod")
    assert scoped.post(f"/api/v1/sources/{d02_feed}/test", json={"limit": 1}).status_code == 200
    outside = scoped.post(f"/api/v1/sources/{city_feed}/test", json={"limit": 1})
    assert outside.status_code == 403 and outside.json() == {"detail": "the source is outside your units"}

    # A form another site could post is refused before it reaches the route.
    admin = as_user(client, tokens, "boss")
    form = admin.post("/api/v1/sources", data={"unit": "city"})
    assert form.status_code == 415
    assert counts(database) == before
    with database.session() as session:
        assert all(session.scalars(select(Source.enabled)))


def test_every_operation_is_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/api/v1/sources"]) == {"get", "post"}
    assert set(paths["/api/v1/sources/{source_id}"]) == {"get", "patch"}
    for path in ("/api/v1/sources/test", "/api/v1/sources/discover", "/api/v1/sources/{source_id}/test"):
        assert set(paths[path]) == {"post"}
    assert paths["/api/v1/sources/{source_id}"]["get"]["parameters"][0]["schema"]["maximum"] == 2**31 - 1


def test_a_key_in_a_source_url_is_masked_and_a_read_back_url_keeps_it(
    client: TestClient, database: Database, tokens: dict[str, str], sample_server: RunningNetwork
) -> None:
    key = sample_server.network.access_key
    with database.session() as session:
        source = session.scalars(select(Source).where(Source.kind == "account").order_by(Source.id)).first()
        assert source is not None and f"key={key}" in source.url
        source_id, stored_url = source.id, source.url
    read = as_user(client, tokens, "watcher").get(f"/api/v1/sources/{source_id}").json()
    assert read["url"] == stored_url.replace(key, "***")
    listed = client.get("/api/v1/sources", params={"kind": "account"})
    assert listed.status_code == 200 and key not in listed.text and "key=***" in listed.text

    # An admin's client writes back what it read: the stored key stays; a test reads the real route.
    admin = as_user(client, tokens, "boss")
    tested = admin.post(f"/api/v1/sources/{source_id}/test", json={"url": read["url"]})
    assert tested.status_code == 200 and tested.json()["items"], tested.text
    patched = admin.patch(f"/api/v1/sources/{source_id}", json={"url": read["url"], "name": "改名"})
    assert patched.status_code == 200 and patched.json()["url"] == read["url"]
    with database.session() as session:
        stored = session.get(Source, source_id)
        assert stored is not None and (stored.name, stored.url) == ("改名", stored_url)
