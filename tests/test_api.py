"""The JSON API: public search and items, health, and the staff moderation API."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from hub.db import Database
from hub.models import Item, Role, Unit, User
from hub.settings import Settings
from tests.fixtures.web import STAFF_PASSWORD, PortalData, add_unit, add_user


def _ids(client: TestClient, q: str) -> list[int]:
    response = client.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200
    return [item["id"] for item in response.json()["items"]]


def test_search_json_finds_approved_items(client: TestClient, portal_data: PortalData) -> None:
    response = client.get("/api/v1/search", params={"q": "党建"})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    (item,) = body["items"]
    assert item["id"] == portal_data.party_item
    assert item["title"] == "学校召开党建工作推进会"
    assert "<mark>" in item["snippet"]
    assert item["title_highlight"] == "学校召开<mark>党建</mark>工作推进会"
    assert item["url"] == "http://127.0.0.1:8700/n/1.html"
    assert item["portal_url"] == f"http://127.0.0.1:8000/items/{portal_data.party_item}"
    assert item["unit"]["name"] == "东城实验学校党支部"
    assert datetime.fromisoformat(item["published_at"]).isoformat().startswith("2024-05-06T01:30")
    assert _ids(client, "volunteer") == [portal_data.english_item]


def test_search_json_pages(client: TestClient, portal_data: PortalData) -> None:
    body = client.get("/api/v1/search", params={"q": "", "page": 1}).json()
    assert body["total"] == 3  # empty query: every approved item, newest first
    assert portal_data.pending_item not in [item["id"] for item in body["items"]]
    assert client.get("/api/v1/search", params={"page": 0}).status_code == 422


def test_item_json_approved_only_for_anonymous(
    client: TestClient, portal_data: PortalData, staff_user: User
) -> None:
    public = client.get(f"/api/v1/items/{portal_data.party_item}")
    assert public.status_code == 200
    assert public.json()["reviewed_by"] == "审核员王芳"
    assert "alert" not in public.json()["html"]
    assert client.get(f"/api/v1/items/{portal_data.pending_item}").status_code == 404
    staff = client.get(f"/api/v1/items/{portal_data.pending_item}", auth=("admin", STAFF_PASSWORD))
    assert staff.status_code == 200
    assert staff.json()["state"] == "pending"
    assert client.get(f"/api/v1/items/{portal_data.pending_item}", auth=("admin", "wrong")).status_code == 401


def test_item_json_says_removed_at_source_and_repost(
    client: TestClient, portal_data: PortalData, database: Database
) -> None:
    assert client.get(f"/api/v1/items/{portal_data.party_item}").json()["removed_at_source_at"] is None
    gone = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    with database.session() as session:
        session.execute(
            update(Item)
            .where(Item.id == portal_data.party_item)
            .values(removed_at_source_at=gone, repost_of_id=portal_data.english_item)
        )
    body = client.get(f"/api/v1/items/{portal_data.party_item}").json()
    assert datetime.fromisoformat(body["removed_at_source_at"]) == gone  # kept, and says so
    assert body["repost_of"] == portal_data.english_item


def test_health(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == "ok"
    assert client.get("/healthz").json() == {"status": "ok"}


def test_moderation_needs_credentials(
    client: TestClient, portal_data: PortalData, database: Database
) -> None:
    add_user(database, "viewer", Role.VIEWER)
    url = f"/api/v1/moderation/items/{portal_data.pending_item}/approve"
    anonymous = client.post(url)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert client.get("/api/v1/moderation/queue").status_code == 401
    assert client.post(url, auth=("viewer", "wrong")).status_code == 401
    assert client.post(url, auth=("viewer", STAFF_PASSWORD)).status_code == 403
    # A viewer may read the queue but not decide.
    queue = client.get("/api/v1/moderation/queue", auth=("viewer", STAFF_PASSWORD))
    assert queue.status_code == 200
    assert [item["id"] for item in queue.json()["items"]] == [portal_data.pending_item]


def test_approve_makes_item_public_and_searchable(
    client: TestClient, portal_data: PortalData, staff_user: User
) -> None:
    auth = ("admin", STAFF_PASSWORD)
    assert portal_data.pending_item not in _ids(client, "党建")
    queue = client.get("/api/v1/moderation/queue", params={"state": "pending"}, auth=auth).json()
    (waiting,) = queue["items"]
    assert queue["total"] == 1
    response = client.post(
        f"/api/v1/moderation/items/{waiting['id']}/approve",
        json={"reason": "内容属实", "version": waiting["version"]},
        auth=auth,
    )
    assert response.status_code == 200
    decided = response.json()
    assert decided["state"] == "approved"
    assert decided["version"] == waiting["version"] + 1
    assert decided["reviewed_by"] == "admin"
    # The decision drained the outbox: the item is searchable and public at once.
    assert portal_data.pending_item in _ids(client, "党建")
    assert client.get(f"/items/{portal_data.pending_item}").status_code == 200
    assert client.get("/api/v1/moderation/queue", auth=auth).json()["items"] == []


def test_stale_version_conflicts_and_bad_transitions(
    client: TestClient, portal_data: PortalData, staff_user: User
) -> None:
    auth = ("admin", STAFF_PASSWORD)
    item_id = portal_data.pending_item
    stale = client.post(f"/api/v1/moderation/items/{item_id}/reject", json={"version": 99}, auth=auth)
    assert stale.status_code == 409
    assert client.get(f"/items/{item_id}").status_code == 404
    rejected = client.post(f"/api/v1/moderation/items/{item_id}/reject", json={"reason": "重复"}, auth=auth)
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    # Rejecting twice is not a valid transition.
    again = client.post(f"/api/v1/moderation/items/{item_id}/reject", auth=auth)
    assert again.status_code == 422
    assert client.post("/api/v1/moderation/items/999999/approve", auth=auth).status_code == 404
    assert item_id not in _ids(client, "党建")


def test_scoped_moderator_may_not_decide_outside_subtree(
    client: TestClient, portal_data: PortalData, database: Database
) -> None:
    with database.session() as session:
        city = session.get(Unit, portal_data.city_id)
        assert city is not None
        west = add_unit(session, "west", "西城区委", "district", city)
        west_id = west.id
    add_user(database, "west-mod", Role.MODERATOR, unit_scope_id=west_id)
    auth = ("west-mod", STAFF_PASSWORD)
    assert client.get("/api/v1/moderation/queue", auth=auth).json()["items"] == []
    response = client.post(f"/api/v1/moderation/items/{portal_data.pending_item}/approve", auth=auth)
    assert response.status_code == 403


def test_health_is_503_when_the_store_is_unreachable(settings: Settings, app: FastAPI) -> None:
    # A real PostgreSQL URL on a loopback port nothing listens on: connecting is refused at once.
    unreachable = Database("postgresql://nobody@127.0.0.1:1/none")
    try:
        with TestClient(create_app(settings, unreachable, app.state.backend)) as client:
            response = client.get("/readyz")
            alive = client.get("/healthz")
        assert alive.status_code == 200  # liveness: restarting the process would not bring the store back
        assert response.status_code == 503
        assert response.json()["database"] == "unreachable"
        assert response.json()["search"] == "ok"
    finally:
        unreachable.dispose()
