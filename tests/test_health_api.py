"""The staff health API (/api/v1/health): the dashboard's rows with its filters and paging, a unit's
score breakdown and history, a source's signals, timeline and weekly counts; staff only, errors in the
app's JSON shape."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.db import Database
from hub.health.report import source_report, unit_report
from hub.health.sweep import sweep
from hub.models import Role, Source
from hub.settings import Settings
from tests.fixtures.web import STAFF_PASSWORD, add_user
from tests.moderation_seed import add_unit
from tests.test_health_status import T0, add_items, add_source, crawled

NOW = T0 + timedelta(days=1)
PAGING = {"total", "page", "page_size", "pages", "items", "next_cursor"}


@pytest.fixture
def tree(database: Database, settings: Settings, app: FastAPI) -> dict[str, int]:
    """city → east (district) → branches lively, stale, broken (fails after the first of two sweeps);
    the city has a feed of its own. Source ids by unit slug, unit ids as "unit:<slug>"."""
    ids: dict[str, int] = {}
    with database.session() as session:
        city = add_unit(session, "city", "city")
        east = add_unit(session, "east", "district", city)
        ids["unit:east"] = east.id
        plan = (
            ("east-lively", [0.5, 3, 8, 15, 22, 29, 36]),
            ("east-stale", [45.0, 60.0]),
            ("east-broken", [2.0, 9.0]),
        )
        for slug, days in plan:
            unit = add_unit(session, slug, "branch", east)
            source = add_source(session, unit, f"{slug}-feed")
            add_items(session, source, days, T0)
            crawled(session, source, T0)
            ids[slug], ids[f"unit:{slug}"] = source.id, unit.id
        city_feed = add_source(session, city, "city-feed")
        add_items(session, city_feed, [1, 2], T0)
        crawled(session, city_feed, T0)
        ids["city"] = city_feed.id
    with database.session() as session:
        sweep(session, settings.health, settings.timezone, T0, [])
    with database.session() as session:
        broken = session.get(Source, ids["east-broken"])
        assert broken is not None
        crawled(session, broken, NOW - timedelta(hours=1), "http_5xx")
        sweep(session, settings.health, settings.timezone, NOW, [])
    app.state.clock = lambda: NOW
    return ids


@pytest.fixture
def viewer(client: TestClient, database: Database) -> TestClient:
    add_user(database, "look", Role.VIEWER)  # read-only staff may read health
    client.auth = ("look", STAFF_PASSWORD)
    return client


def _detail(response: httpx.Response, status: int) -> object:
    """The app's error shape: a JSON object with ``detail`` alone."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail"}, body
    return body["detail"]


def test_staff_only_with_the_apps_error_shape(client: TestClient, tree: dict[str, int]) -> None:
    for path in ("/api/v1/health", "/api/v1/health/units/east", f"/api/v1/health/sources/{tree['city']}"):
        _detail(client.get(path), 401)
    client.auth = ("nobody", "wrong")
    _detail(client.get("/api/v1/health"), 401)


def test_the_table_is_the_reports_rows_filtered_and_paged(
    viewer: TestClient, database: Database, settings: Settings, tree: dict[str, int]
) -> None:
    every = viewer.get("/api/v1/health").json()
    assert set(every) == PAGING | {"view", "counts"} and every["view"] == "sources"
    with database.session() as session:
        report = source_report(session, NOW, settings.timezone, settings.health.tls_warn_days)
    assert every["items"] == report.records()  # the same rows as `xinlian health report` and the CSV
    assert every["total"] == 4 and every["counts"]["active"] == 2
    assert every["counts"]["broken"] == every["counts"]["stale"] == 1 and every["counts"]["unknown"] == 0

    broken = viewer.get("/api/v1/health", params={"unit": "east", "status": ["broken", "stale"]}).json()
    assert sorted(row["source"] for row in broken["items"]) == ["east-broken-feed", "east-stale-feed"]
    failing = next(row for row in broken["items"] if row["status"] == "broken")
    assert failing["consecutive_failures"] == 1 and failing["last_error"] == "http_5xx"
    assert failing["last_new_item"] is not None

    branches = viewer.get("/api/v1/health", params={"level": "branch", "kind": "feed"}).json()
    assert branches["total"] == 3 and "city-feed" not in {row["source"] for row in branches["items"]}

    by_rate = viewer.get("/api/v1/health", params={"sort": "rate_12w", "order": "desc", "limit": 2}).json()
    assert by_rate["items"][0]["source"] == "east-lively-feed" and len(by_rate["items"]) == 2
    assert (by_rate["total"], by_rate["page_size"], by_rate["pages"]) == (4, 2, 2)
    second = viewer.get(
        "/api/v1/health", params={"sort": "rate_12w", "order": "desc", "limit": 2, "page": 2}
    ).json()
    assert len(second["items"]) == 2 and second["page"] == 2
    pages = [{row["source"] for row in body["items"]} for body in (by_rate, second)]
    assert pages[0].isdisjoint(pages[1]) and len(pages[0] | pages[1]) == 4

    units = viewer.get("/api/v1/health", params={"view": "units", "unit": "east"}).json()
    with database.session() as session:
        assert units["items"] == unit_report(session, settings.timezone, "east").records()
    scores = {row["unit"]: row["score"] for row in units["items"]}
    assert scores["east-lively"] > scores["east-stale"] and sum(units["counts"].values()) == 5


def test_bad_filters_are_errors_in_the_same_shape(viewer: TestClient, tree: dict[str, int]) -> None:
    assert "nowhere" in str(_detail(viewer.get("/api/v1/health", params={"unit": "nowhere"}), 404))
    detail = _detail(viewer.get("/api/v1/health", params={"status": "asleep"}), 422)
    assert isinstance(detail, list) and detail[0]["loc"] == ["query", "status", 0]
    _detail(viewer.get("/api/v1/health", params={"limit": 0}), 422)
    _detail(viewer.get("/api/v1/health/units/nowhere"), 404)
    _detail(viewer.get("/api/v1/health/sources/99999"), 404)
    _detail(viewer.get(f"/api/v1/health/sources/{2**63}"), 422)  # no id: refused before the store


def test_a_units_breakdown_rank_trend_and_history(viewer: TestClient, tree: dict[str, int]) -> None:
    by_slug = viewer.get("/api/v1/health/units/east-lively").json()
    assert viewer.get(f"/api/v1/health/units/{tree['unit:east-lively']}").json() == by_slug
    assert by_slug["status"] == "active" and by_slug["score"] is not None
    assert (by_slug["rank_in_level"], by_slug["peers"]) == (1, 3)
    breakdown = by_slug["breakdown"]
    assert set(breakdown) == {"frequency", "timeliness", "originality", "availability", "moderation"}
    scored = [entry["points"] for entry in breakdown.values() if entry["points"] is not None]
    assert abs(sum(scored) - by_slug["score"]) < 0.5  # the points add up to the score
    assert [month["month"] for month in by_slug["trend"]] == ["2024-06"]
    assert [row["source"] for row in by_slug["sources"]] == ["east-lively-feed"]
    assert by_slug["source_counts"] == {"active": 1}
    weeks = by_slug["items_per_week"]
    assert len(weeks) == 12 and sum(week["count"] for week in weeks) == 7
    assert [(e["from_status"], e["to_status"]) for e in by_slug["history"]] == [(None, "active")]

    east = viewer.get("/api/v1/health/units/east").json()
    assert east["below"] == {"active": 1, "broken": 1, "stale": 1} and east["sources"] == []


def test_a_sources_signals_timeline_and_weekly_counts(viewer: TestClient, tree: dict[str, int]) -> None:
    body = viewer.get(f"/api/v1/health/sources/{tree['east-broken']}").json()
    assert body["name"] == "east-broken-feed" and body["unit"]["slug"] == "east-broken"
    assert body["signals"]["status"] == "broken" and body["signals"]["source_id"] == tree["east-broken"]
    assert [(e["from_status"], e["to_status"]) for e in body["history"]] == [
        ("active", "broken"),
        (None, "active"),
    ]
    assert "http_5xx" in body["history"][0]["reason"]
    weeks = body["items_per_week"]
    assert len(weeks) == 12 and sum(week["count"] for week in weeks) == 2
    assert weeks[0]["week_start"] < weeks[-1]["week_start"]  # oldest first


def test_paused_sources_show_when_and_why_and_filter_alone(
    viewer: TestClient, database: Database, tree: dict[str, int]
) -> None:
    with database.session() as session:
        broken = session.get(Source, tree["east-broken"])
        assert broken is not None
        broken.paused_at, broken.pause_reason = NOW - timedelta(minutes=30), "failing for 3 days: http_5xx"
    every = viewer.get("/api/v1/health").json()["items"]
    assert {row["source"]: row["paused_at"] for row in every if row["paused_at"]} == {
        "east-broken-feed": "2024-06-04 11:30"  # NOW - 30 min in Asia/Shanghai
    }
    paused = viewer.get("/api/v1/health", params={"paused": "true"}).json()
    assert [(row["source"], row["pause_reason"]) for row in paused["items"]] == [
        ("east-broken-feed", "failing for 3 days: http_5xx")
    ]
    assert paused["total"] == 1
    page = viewer.get("/staff/health", params={"paused": "1", "unit": "east"})
    assert page.status_code == 200
    assert "east-broken-feed" in page.text and "east-lively-feed" not in page.text
    assert 'name="paused" value="1" checked' in page.text and "failing for 3 days: http_5xx" in page.text
    assert "paused=1" in page.text  # the export and sort links keep the filter
