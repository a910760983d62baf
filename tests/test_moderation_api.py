"""The staff moderation API and CLI: claims, bulk decisions, two-step review, withdraw, reasons, stats."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from cli.main import build_app
from hub.db import Database
from hub.models import Item, Role
from hub.settings import Settings
from tests.fixtures.web import STAFF_PASSWORD, add_user
from tests.moderation_seed import Queue, seed_queue

API = "/api/v1/moderation"


@pytest.fixture
def queue(database: Database, app: FastAPI) -> Queue:
    """The seeded queue, with moderators alice and bob, an east-district moderator and an admin."""
    seeded = seed_queue(database)
    add_user(database, "alice", Role.MODERATOR)
    add_user(database, "bob", Role.MODERATOR)
    add_user(database, "east-mod", Role.MODERATOR, unit_scope_id=seeded.east)
    add_user(database, "root", Role.ADMIN)
    return seeded


def auth(name: str) -> tuple[str, str]:
    return (name, STAFF_PASSWORD)


def _search(client: TestClient, q: str) -> list[int]:
    return [item["id"] for item in client.get("/api/v1/search", params={"q": q}).json()["items"]]


def test_claim_held_by_another_is_refused_with_holder_and_expiry(client: TestClient, queue: Queue) -> None:
    item_id = queue.east_clean[0]
    claimed = client.post(f"{API}/items/{item_id}/claim", auth=auth("alice"))
    assert claimed.status_code == 200 and claimed.json()["claim"]["by"] == "alice"
    refused = client.post(f"{API}/items/{item_id}/approve", auth=auth("bob"))
    assert refused.status_code == 409
    assert "claimed by 'alice' until" in refused.json()["detail"]
    assert client.post(f"{API}/items/{item_id}/claim", auth=auth("bob")).status_code == 409
    listed = {i["id"]: i for i in client.get(f"{API}/queue", auth=auth("bob")).json()["items"]}
    assert listed[item_id]["claim"]["by"] == "alice"
    free = client.get(f"{API}/queue", params={"claim": "free"}, auth=auth("bob")).json()
    assert item_id not in [i["id"] for i in free["items"]]
    assert [i["id"] for i in client.get(f"{API}/claims", auth=auth("alice")).json()] == [item_id]
    assert client.post(f"{API}/items/{item_id}/release", auth=auth("bob")).status_code == 403
    assert client.post(f"{API}/items/{item_id}/release", auth=auth("alice")).status_code == 200
    assert client.post(f"{API}/items/{item_id}/approve", auth=auth("bob")).json()["state"] == "approved"


def test_batch_claims_and_claim_next(client: TestClient, queue: Queue) -> None:
    taken = client.post(f"{API}/claims", json={"next": 2}, auth=auth("east-mod")).json()
    assert [r["id"] for r in taken["results"]] == [queue.east_hit, queue.east_clean[0]]
    batch = client.post(
        f"{API}/claims", json={"ids": [queue.east_hit, queue.west_clean]}, auth=auth("alice")
    ).json()
    assert (batch["done"], batch["refused"]) == (1, 1)
    assert batch["results"][0]["error"] == "claimed"
    released = client.post(f"{API}/claims/release", json={}, auth=auth("east-mod")).json()
    assert released["done"] == 2


def test_bulk_approve_refuses_items_with_hits_and_reports_each(client: TestClient, queue: Queue) -> None:
    ids = [queue.east_clean[0], queue.east_hit, queue.west_clean, 999_999]
    response = client.post(f"{API}/bulk/approve", json={"ids": ids}, auth=auth("alice"))
    assert response.status_code == 200
    body = response.json()
    assert (body["done"], body["refused"]) == (2, 2)
    assert [(r["id"], r["ok"], r["error"]) for r in body["results"]] == [
        (queue.east_clean[0], True, None),
        (queue.east_hit, False, "has_hits"),
        (queue.west_clean, True, None),
        (999_999, False, "not_found"),
    ]
    # Pinned versions: a stale one is a per-item conflict, the rest proceed.
    pinned = {"items": [{"id": queue.east_clean[1], "version": 1}, {"id": queue.east_clean[0], "version": 1}]}
    body = client.post(
        f"{API}/bulk/reject", json={**pinned, "reason_code": "duplicate"}, auth=auth("bob")
    ).json()
    assert [(r["ok"], r["error"]) for r in body["results"]] == [(True, None), (False, "conflict")]
    unknown = client.post(f"{API}/bulk/reject", json={"ids": ids, "reason_code": "nope"}, auth=auth("bob"))
    assert unknown.status_code == 422 and "unknown reason code 'nope'" in unknown.json()["detail"]


def test_district_moderator_cannot_act_on_another_district(client: TestClient, queue: Queue) -> None:
    east = auth("east-mod")
    assert client.post(f"{API}/items/{queue.west_clean}/approve", auth=east).status_code == 403
    assert client.post(f"{API}/items/{queue.west_clean}/claim", auth=east).status_code == 403
    assert client.get(f"{API}/items/{queue.west_clean}", auth=east).status_code == 403
    body = client.post(
        f"{API}/bulk/reject", json={"ids": [queue.west_clean, queue.east_clean[0]]}, auth=east
    ).json()
    assert [r["error"] for r in body["results"]] == ["forbidden", None]
    listed = client.get(f"{API}/queue", auth=east).json()
    assert {i["id"] for i in listed["items"]} == {queue.east_clean[1], queue.east_hit}
    assert client.get(f"{API}/queue", params={"unit": queue.west}, auth=east).status_code == 403


def test_withdrawn_item_leaves_search_and_public_pages_at_once(client: TestClient, queue: Queue) -> None:
    item_id = queue.west_clean
    assert client.post(f"{API}/items/{item_id}/approve", auth=auth("alice")).status_code == 200
    assert item_id in _search(client, "环境清洁")
    assert client.get(f"/items/{item_id}").status_code == 200
    assert client.post(f"{API}/items/{item_id}/withdraw", auth=auth("alice")).status_code == 422  # no reason
    response = client.post(
        f"{API}/items/{item_id}/withdraw",
        json={"reason_code": "outdated", "reason": "见通知"},
        auth=auth("alice"),
    )
    assert response.status_code == 200 and response.json()["state"] == "withdrawn"
    assert item_id not in _search(client, "环境清洁")
    assert client.get(f"/items/{item_id}").status_code == 404
    assert client.get(f"/api/v1/items/{item_id}").status_code == 404
    events = client.get(f"{API}/items/{item_id}/events", auth=auth("alice")).json()
    assert [(e["action"], e["actor"], e["reason_code"]) for e in events][-2:] == [
        ("approve", "alice", None),
        ("withdraw", "alice", "outdated"),
    ]
    assert events[-1]["reason"] == "内容已过时效，撤下处理。\n见通知"


def test_needs_changes_through_the_api(client: TestClient, queue: Queue) -> None:
    url = f"{API}/items/{queue.east_hit}/needs-changes"
    assert (
        client.post(url, json={"reason_code": "duplicate"}, auth=auth("alice")).status_code == 422
    )  # reject-only
    response = client.post(url, json={"reason_code": "personal_data"}, auth=auth("alice"))
    assert response.status_code == 200 and response.json()["state"] == "needs_changes"
    assert client.post(f"{API}/items/{queue.east_hit}/publish", auth=auth("alice")).status_code == 404


def test_two_step_review_through_the_api_and_the_published_page(
    settings: Settings, database: Database, app: FastAPI, queue: Queue
) -> None:
    two_step = settings.model_copy(
        update={"moderation": settings.moderation.model_copy(update={"two_step_levels": ["district"]})}
    )
    with TestClient(create_app(two_step, database, app.state.backend)) as client:
        item_id = queue.west_clean
        first = client.post(f"{API}/items/{item_id}/approve", auth=auth("alice")).json()
        assert (first["state"], first["step"], first["first_reviewed_by"]) == ("pending", "first", "alice")
        assert client.get(f"/items/{item_id}").status_code == 404  # not public after 初审
        waiting = client.get(f"{API}/queue", params={"step": "final"}, auth=auth("bob")).json()["items"]
        assert [(i["id"], i["first_reviewed_by"]) for i in waiting] == [(item_id, "alice")]
        view = client.get(f"{API}/items/{item_id}", auth=auth("bob")).json()
        assert (view["two_steps"], view["step"]) == (True, "final")
        same = client.post(f"{API}/items/{item_id}/approve", auth=auth("alice"))
        assert same.status_code == 403 and "someone other than the first reviewer" in same.json()["detail"]
        final = client.post(f"{API}/items/{item_id}/approve", auth=auth("bob")).json()
        assert (final["state"], final["reviewed_by"]) == ("approved", "bob")
        page = client.get(f"/items/{item_id}")
        assert page.status_code == 200
        assert "责任审核人：bob" in page.text and "初审：alice" in page.text


def test_review_view_queue_fields_and_reasons(client: TestClient, queue: Queue) -> None:
    view = client.get(f"{API}/items/{queue.east_hit}", auth=auth("alice")).json()
    assert view["revision"]["number"] == 1 and view["live"] is None and view["step"] == "single"
    hit = next(h for h in view["hits"] if h["category"] == "classified")
    assert view["revision"]["text"][hit["start"] : hit["end"]] == "内部资料"
    assert [e["action"] for e in view["events"]] == ["submitted"]
    queue_page = client.get(f"{API}/queue", params={"order": "risk"}, auth=auth("alice")).json()
    first = queue_page["items"][0]
    assert first["hit_count"] >= 1 and first["risk_score"] > 0 and first["overdue"] is True  # seeded in 2024
    assert first["content_hash"] and first["age_s"] > 0 and queue_page["age_limit_h"] == 24.0
    assert (
        client.get(f"{API}/queue", params={"hit_category": "classified"}, auth=auth("alice")).json()["total"]
        == 2
    )
    reasons = client.get(f"{API}/reasons", params={"action": "withdraw"}, auth=auth("alice")).json()
    assert "outdated" in {r["code"] for r in reasons} and "duplicate" not in {r["code"] for r in reasons}
    labels = {r["code"]: (r["label"], r["label_en"]) for r in reasons}
    assert labels["outdated"] == ("已过时效", "Out of date")


def test_stats_json_and_csv(client: TestClient, queue: Queue) -> None:
    client.post(f"{API}/items/{queue.east_clean[0]}/approve", auth=auth("alice"))
    client.post(
        f"{API}/items/{queue.west_hit}/reject", json={"reason_code": "classified_marking"}, auth=auth("bob")
    )
    body = client.get(f"{API}/stats", auth=auth("root")).json()
    reviewers = {row["key"]: row for row in body["reviewers"]}
    assert reviewers["alice"]["by_action"]["approve"] == 1 and reviewers["bob"]["reasons"] == {
        "classified_marking": 1
    }
    assert {row["key"] for row in body["units"]} == {"east-branch", "west"}
    scoped = client.get(f"{API}/stats", auth=auth("east-mod")).json()
    assert [row["key"] for row in scoped["reviewers"]] == ["alice"]
    response = client.get(f"{API}/stats.csv", auth=auth("root"))
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {(r["group"], r["key"], r["decisions"]) for r in rows} == {
        ("reviewer", "alice", "1"),
        ("reviewer", "bob", "1"),
        ("unit", "east-branch", "1"),
        ("unit", "west", "1"),
    }


def _run(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["--config", str(config_file), *args], env={"COLUMNS": "300"})
    return result.exit_code, result.output


def test_cli_bulk_approve_claims_and_stats_csv(config_file: Path, database: Database) -> None:
    queue = seed_queue(database)
    add_user(database, "east-mod", Role.MODERATOR, unit_scope_id=queue.east)
    code, output = _run(
        config_file, "moderate", "approve", *map(str, [*queue.east_clean, queue.east_hit]), "--as", "张三"
    )
    assert code == 1  # one refusal
    assert f"item {queue.east_hit}: has_hits" in output and f"item {queue.east_clean[1]}: approved" in output
    code, output = _run(config_file, "moderate", "claim", str(queue.west_hit), "--as", "李四")
    assert code == 0 and "claimed by 李四" in output
    code, output = _run(
        config_file, "moderate", "reject", str(queue.west_hit), "--code", "advertising", "--as", "张三"
    )
    assert code == 1 and "claimed by '李四'" in output
    code, output = _run(
        config_file,
        "moderate",
        "withdraw",
        str(queue.east_clean[0]),
        "--as",
        "east-mod",
        "--code",
        "outdated",
    )
    assert code == 0, output
    code, output = _run(config_file, "moderate", "approve", str(queue.west_clean), "--as", "east-mod")
    assert code == 1 and "outside the unit scope" in output
    code, output = _run(config_file, "moderate", "stats", "--csv")
    assert code == 0, output
    rows = {(r["group"], r["key"]): r for r in csv.DictReader(io.StringIO(output))}
    assert rows["reviewer", "张三"]["approve"] == "2" and rows["reviewer", "east-mod"]["withdraw"] == "1"
    assert rows["reviewer", "east-mod"]["reasons"] == "outdated=1"
    code, output = _run(config_file, "moderate", "list", "--overdue")
    assert code == 0 and "!" in output


def test_writes_another_site_could_trigger_are_refused(
    client: TestClient, queue: Queue, database: Database
) -> None:
    item_id = queue.east_clean[0]
    url = f"{API}/items/{item_id}/approve"
    form = client.post(url, auth=auth("alice"), data={"x": "1"})  # what a hostile page's <form> sends
    assert form.status_code == 415
    plain = client.post(url, auth=auth("alice"), content=b"{}", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"}, {"Origin": "null"}):
        refused = client.post(url, auth=auth("alice"), json={}, headers=headers)
        assert refused.status_code in (403, 415), headers
    with database.session() as session:
        assert session.get(Item, item_id).state == "pending"  # type: ignore[union-attr]
    same_origin = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}
    assert client.post(url, auth=auth("alice"), json={}, headers=same_origin).json()["state"] == "approved"
