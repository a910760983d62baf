""" "Crawl now" from the command line and the staff API: the source is due at once and its pause is
lifted; moderators (within their units) and admins may, viewers and anonymous callers may not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import build_app
from hub.db import Database
from hub.models import Role, Source
from hub.timeutil import utcnow
from tests.fixtures.web import STAFF_PASSWORD, add_unit, add_user
from tests.test_staff_auth import page_csrf, sign_in


def _seed(database: Database) -> dict[str, int]:
    """A city with one paused source, a district with two, one of them disabled."""
    later = utcnow() + timedelta(days=1)
    with database.session() as session:
        city = add_unit(session, "city", "市", "city")
        east = add_unit(session, "east", "东区", "district", city)
        west = add_unit(session, "west", "西区", "district", city)
        rows = {
            "paused": Source(unit_id=city.id, name="市", kind="feed", url="http://city.test/rss.xml"),
            "east": Source(unit_id=east.id, name="东", kind="feed", url="http://east.test/rss.xml"),
            "east_off": Source(unit_id=east.id, name="东2", kind="html", url="http://east.test/list.html"),
            "west": Source(unit_id=west.id, name="西", kind="feed", url="http://west.test/rss.xml"),
        }
        rows["paused"].paused_at, rows["paused"].pause_reason = utcnow(), "failing for 7.0 days"
        rows["east_off"].enabled = False
        for source in rows.values():
            source.next_check_at = later
        session.add_all(rows.values())
        session.flush()
        ids = {name: source.id for name, source in rows.items()}
        ids["east_unit"], ids["city_unit"] = east.id, city.id
        return ids


def _state(database: Database, source_id: int) -> Source:
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        session.expunge(source)
        return source


def _cli(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["--config", str(config_file), *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_crawl_now_from_the_command_line(config_file: Path, database: Database) -> None:
    ids = _seed(database)
    before = utcnow()
    code, output = _cli(config_file, "sources", "crawl-now", str(ids["paused"]))
    assert code == 0, output
    assert f"source {ids['paused']}: due now (was paused: resumed)" in output
    paused = _state(database, ids["paused"])
    assert paused.paused_at is None and paused.pause_reason is None
    assert paused.next_check_at is not None and before <= paused.next_check_at <= utcnow()
    # A whole unit: its enabled sources are due, the disabled one is said to stay out.
    code, output = _cli(config_file, "sources", "crawl-now", "--unit", "east")
    assert code == 0, output
    assert "1 of 2 source(s)" in output and "disabled: not crawled" in output
    assert _state(database, ids["east"]).next_check_at <= utcnow()  # type: ignore[operator]
    assert _state(database, ids["east_off"]).next_check_at > utcnow()  # type: ignore[operator]
    assert _state(database, ids["west"]).next_check_at > utcnow()  # type: ignore[operator]
    # Nothing to do is an error an operator sees.
    assert _cli(config_file, "sources", "crawl-now", "999999")[0] == 1
    assert _cli(config_file, "sources", "crawl-now", "--unit", "nowhere")[0] == 1
    assert _cli(config_file, "sources", "crawl-now")[0] != 0


def test_crawl_now_from_the_staff_api(client: TestClient, database: Database) -> None:
    ids = _seed(database)
    add_user(database, "admin", Role.ADMIN)
    add_user(database, "east_mod", Role.MODERATOR, unit_scope_id=ids["east_unit"])
    add_user(database, "watcher", Role.VIEWER)
    url = "/api/v1/staff/sources/{}/crawl-now"

    assert client.post(url.format(ids["paused"])).status_code == 401  # anonymous
    viewer = client.post(url.format(ids["paused"]), auth=("watcher", STAFF_PASSWORD))
    assert viewer.status_code == 403
    assert _state(database, ids["paused"]).paused_at is not None  # untouched

    # An admin with HTTP Basic: the paused city source is due now and resumed.
    response = client.post(url.format(ids["paused"]), auth=("admin", STAFF_PASSWORD))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["source_id"], body["resumed"], body["being_crawled"]) == (ids["paused"], True, False)
    assert _state(database, ids["paused"]).paused_at is None
    assert client.post(url.format(999999), auth=("admin", STAFF_PASSWORD)).status_code == 404
    assert client.post(url.format(ids["east_off"]), auth=("admin", STAFF_PASSWORD)).status_code == 409

    # A moderator of the east district, signed in with a session: its own source, with the CSRF token.
    sign_in(client, "east_mod")
    csrf = page_csrf(client)
    assert client.post(url.format(ids["east"])).status_code == 403  # no CSRF token
    assert client.post(url.format(ids["east"]), headers={"X-CSRF-Token": csrf}).status_code == 200
    assert _state(database, ids["east"]).next_check_at <= utcnow()  # type: ignore[operator]
    # ... but not the west district's.
    outside = client.post(url.format(ids["west"]), headers={"X-CSRF-Token": csrf})
    assert outside.status_code == 403
    assert _state(database, ids["west"]).next_check_at > utcnow()  # type: ignore[operator]
    # A form another site made the browser post is refused.
    foreign = client.post(
        url.format(ids["east"]), headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
