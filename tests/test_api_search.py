"""Search through the JSON API and the portal: facets, cursors, suggestions, related items, and the
staff search that sees every moderation state while the public sees approved items only."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.models import OutboxEntry, OutboxOp, Unit, UnitType
from hub.timeutil import utcnow
from index.outbox import drain_outbox
from tests.fixtures.web import STAFF_PASSWORD, PortalData

STAFF = ("admin", STAFF_PASSWORD)


def _ids(body: dict[str, object]) -> list[int]:
    items = body["items"]
    assert isinstance(items, list)
    return [item["id"] for item in items]


def test_public_search_refuses_a_state_parameter(client: TestClient, portal_data: PortalData) -> None:
    refused = client.get("/api/v1/search", params={"q": "党建", "state": "pending"})
    assert refused.status_code == 422  # a filter of the staff search only: not silently dropped either
    assert [error["loc"] for error in refused.json()["detail"]] == [["query", "state"]]
    body = client.get("/api/v1/search", params={"q": "党建"}).json()
    assert _ids(body) == [portal_data.party_item]
    assert body["items"][0]["state"] is None  # the public is not told moderation states


def test_unknown_parameters_are_named_not_ignored(client: TestClient, portal_data: PortalData) -> None:
    """``size=50`` used to answer a page of the default size; the API says what it takes instead."""
    refused = client.get("/api/v1/search", params={"q": "党建", "size": "50", "sort": "date"})
    assert refused.status_code == 422
    [error] = refused.json()["detail"]
    assert error["loc"] == ["query", "size"] and error["input"] == "50"
    assert "limit" in error["msg"] and "page" in error["msg"]  # the names it does take
    # The language switch and cache busters pass everywhere; so does every documented parameter.
    fine = client.get("/api/v1/search", params={"q": "党建", "lang": "en", "_": "1712", "limit": "5"})
    assert fine.status_code == 200 and _ids(fine.json()) == [portal_data.party_item]
    assert client.get("/api/v1/units", params={"size": "5"}).status_code == 422
    assert client.get("/api/v1/units", params={"limit": "5"}).status_code == 200


def test_staff_search_requires_a_login(client: TestClient, portal_data: PortalData) -> None:
    response = client.get("/api/v1/staff/search", params={"q": "党建"})
    assert response.status_code == 401
    assert client.get("/api/v1/staff/search", auth=("admin", "wrong")).status_code == 401


def test_staff_search_sees_every_state(
    client: TestClient, portal_data: PortalData, staff_user: object
) -> None:
    everything = client.get("/api/v1/staff/search", params={"q": "党建"}, auth=STAFF).json()
    states = {item["id"]: item["state"] for item in everything["items"]}
    assert states == {portal_data.party_item: "approved", portal_data.pending_item: "pending"}
    pending = client.get("/api/v1/staff/search", params={"q": "党建", "state": "pending"}, auth=STAFF).json()
    assert _ids(pending) == [portal_data.pending_item]
    bogus = client.get("/api/v1/staff/search", params={"state": "published"}, auth=STAFF)
    assert bogus.status_code == 422


def test_search_returns_facets_over_all_matches(client: TestClient, portal_data: PortalData) -> None:
    assert client.get("/api/v1/search", params={"limit": 1}).json()["facets"] == {}  # on request only
    body = client.get("/api/v1/search", params={"limit": 1, "facets": "true"}).json()
    assert body["total"] == 3 and len(body["items"]) == 1
    assert body["facets"]["level"] == [{"value": "branch", "label": "branch", "count": 3}]
    assert body["facets"]["unit"] == [
        {"value": str(portal_data.branch_id), "label": "东城实验学校党支部", "count": 3}
    ]
    assert body["facets"]["month"] == [{"value": "2024-05", "label": "2024-05", "count": 3}]


def test_cursor_walks_every_result_once(client: TestClient, portal_data: PortalData) -> None:
    seen: list[int] = []
    cursor = ""
    for _ in range(10):
        body = client.get("/api/v1/search", params={"limit": 1, "cursor": cursor}).json()
        seen += _ids(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(
        [portal_data.party_item, portal_data.english_item, portal_data.hostile_item]
    )
    assert len(seen) == 3


def test_a_foreign_cursor_is_a_clear_400(client: TestClient, portal_data: PortalData) -> None:
    response = client.get("/api/v1/search", params={"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert "cursor" in response.json()["detail"]
    page = client.get("/search", params={"q": "党建", "cursor": "not-a-cursor"})
    assert page.status_code == 400
    assert "翻页链接已失效" in page.text


def test_filters_by_attachment_and_dates(client: TestClient, portal_data: PortalData) -> None:
    with_files = client.get("/api/v1/search", params={"attachments": "1"}).json()
    assert _ids(with_files) == [portal_data.party_item]
    assert with_files["items"][0]["has_attachments"] is True
    # The seeded items are dated 2024-05-06 09:30 in Asia/Shanghai: the day filter is in that zone.
    assert (
        client.get("/api/v1/search", params={"since": "2024-05-06", "until": "2024-05-06"}).json()["total"]
        == 3
    )
    assert client.get("/api/v1/search", params={"since": "2024-05-07"}).json()["total"] == 0
    assert client.get("/api/v1/search", params={"until": "2024-05-05"}).json()["total"] == 0


def test_suggestions_offer_approved_titles(client: TestClient, portal_data: PortalData) -> None:
    found = client.get("/api/v1/search/suggest", params={"q": "学校召"}).json()
    assert [entry["id"] for entry in found] == [portal_data.party_item]
    assert found[0]["title"] == "学校召开党建工作推进会"
    # The pending item's title starts the same way but is not public.
    assert client.get("/api/v1/search/suggest", params={"q": "待审"}).json() == []
    assert [e["id"] for e in client.get("/api/v1/search/suggest", params={"q": "volun"}).json()] == [
        portal_data.english_item
    ]


def test_related_of_a_public_item_only(client: TestClient, portal_data: PortalData) -> None:
    related = client.get(f"/api/v1/items/{portal_data.party_item}/related").json()
    assert portal_data.party_item not in [item["id"] for item in related]
    assert portal_data.pending_item not in [item["id"] for item in related]
    assert client.get(f"/api/v1/items/{portal_data.pending_item}/related").status_code == 404


def test_search_page_shows_facet_links(client: TestClient, portal_data: PortalData) -> None:
    page = client.get("/search", params={"q": ""})
    assert page.status_code == 200
    assert 'class="facets"' in page.text
    assert "unit=east-school" in page.text  # the unit facet links by slug
    assert "since=2024-05-01&amp;until=2024-05-31" in page.text


def test_filters_by_unit_type(app: FastAPI, client: TestClient, portal_data: PortalData) -> None:
    # The seeded units are government units; make the school's branch a school and re-index its items.
    database = app.state.database
    with database.session() as session:
        branch = session.get(Unit, portal_data.branch_id)
        assert branch is not None
        branch.unit_type = UnitType.SCHOOL.value
        session.add_all(
            OutboxEntry(item_id=item_id, op=OutboxOp.UPSERT.value, created_at=utcnow(), attempts=0)
            for item_id in (portal_data.party_item, portal_data.english_item, portal_data.hostile_item)
        )
    drain_outbox(database, app.state.backend)

    schools = client.get("/api/v1/search", params={"type": "school"}).json()
    assert sorted(_ids(schools)) == sorted(
        [portal_data.party_item, portal_data.english_item, portal_data.hostile_item]
    )
    assert client.get("/api/v1/search", params={"type": "government"}).json()["total"] == 0
    assert client.get("/api/v1/search", params={"q": "党建", "type": "school"}).json()["total"] == 1
    # An unknown type is no filter, as an unknown level is.
    assert client.get("/api/v1/search", params={"type": "bogus"}).json()["total"] == 3
    # The page filters too, and its filter form keeps the type when another filter is chosen.
    page = client.get("/search", params={"type": "government"})
    assert page.status_code == 200 and "学校召开党建工作推进会" not in page.text
    page = client.get("/search", params={"type": "school"})
    assert "学校召开党建工作推进会" in page.text
    assert '<input type="hidden" name="type" value="school">' in page.text
