"""The admin health dashboard (/staff/health): tables filtered and sorted from the URL, the district
roll-up, a source's timeline and weekly chart (inline SVG with a data table), a unit's score breakdown
and monthly trend, "crawl now" through the staff sources API, CSV/XLSX exports with the report's rows."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import update

from hub.db import Database
from hub.health import reasons
from hub.health.reasons import Reason
from hub.health.report import source_report, to_csv, unit_report
from hub.health.sweep import sweep
from hub.models import HealthEvent, Role, Source, SourceHealth
from hub.schedule.hooks import record_health_event, status_change
from hub.settings import Settings
from tests.fixtures.web import STAFF_PASSWORD, add_user
from tests.moderation_seed import add_unit
from tests.test_health_report import _cell
from tests.test_health_status import T0, add_items, add_source, crawled
from tests.test_staff_auth import sign_in

NOW = T0 + timedelta(days=1)
# CJK ideographs and punctuation, full-width forms; not U+3000, which indents unit trees in selects.
CHINESE = re.compile(r"[\u3001-\u303f\u4e00-\u9fff\uff00-\uffef]+")
SEEDED_NAME = re.compile(r"[\w-]*?单位")  # tests.moderation_seed.add_unit names a unit "<slug>单位"


@pytest.fixture
def tree(database: Database, settings: Settings, app: FastAPI) -> dict[str, int]:
    """city → east, west (districts) → branches: lively, stale, broken; swept twice (a change recorded)."""
    ids: dict[str, int] = {}
    with database.session() as session:
        city = add_unit(session, "city", "city")
        east = add_unit(session, "east", "district", city)
        west = add_unit(session, "west", "district", city)
        plan = (
            ("east-lively", east, [0.5, 3, 8, 15, 22, 29, 36]),
            ("east-stale", east, [45.0, 60.0]),
            ("east-broken", east, [2.0, 9.0]),  # fails after the first sweep
            ("west-lively", west, [1.0, 2.0, 4.0]),
        )
        for slug, parent, days in plan:
            source = add_source(session, add_unit(session, slug, "branch", parent), f"{slug}-feed")
            add_items(session, source, days, T0)
            crawled(session, source, T0)
            ids[slug] = source.id
        city_feed = add_source(session, city, "city-feed")
        add_items(session, city_feed, [1, 2], T0)
        crawled(session, city_feed, T0)
    with database.session() as session:
        sweep(session, settings.health, settings.timezone, T0, [])
    with database.session() as session:  # the broken branch fails after its first assessment
        broken = session.get(Source, ids["east-broken"])
        assert broken is not None
        crawled(session, broken, NOW - timedelta(hours=1), "http_5xx")
        sweep(session, settings.health, settings.timezone, NOW, [])
    app.state.clock = lambda: NOW
    return ids


@pytest.fixture
def admin(client: TestClient, database: Database) -> TestClient:
    add_user(database, "boss", Role.ADMIN)
    client.auth = ("boss", STAFF_PASSWORD)
    return client


def statuses_shown(html: str) -> list[str]:
    return re.findall(r'<tr class="hs-row-(\w+)">', html)


def test_the_dashboard_lists_sources_filters_and_sorts_from_the_url(
    admin: TestClient, tree: dict[str, int]
) -> None:
    page = admin.get("/staff/health")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store, private"
    assert sorted(statuses_shown(page.text)) == ["active", "active", "active", "broken", "stale"]
    assert "east-broken-feed" in page.text and "最近 1 次抓取失败：HTTP 5xx 错误，HTTP 500" in page.text
    # The probe's columns say they are the homepage's: a broken feed on a live site shows its HTTP 200.
    cells = re.findall(r"<th\b.*?</th>", page.text, re.S)
    headings = [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]
    assert {"首页 HTTP 状态", "首页延迟（毫秒）"} <= set(headings), headings
    # Times wrap between the date and the time only ("2026-12-" / "06 11:06" over three lines before).
    times = re.findall(
        r'<td><span class="nowrap">\d{4}-\d\d-\d\d</span> <span class="nowrap">\d\d:\d\d</span></td>',
        page.text,
    )
    assert len(times) >= 3  # the last new item of each source that has one

    broken = admin.get("/staff/health", params={"status": ["broken", "stale"], "unit": "east"})
    assert sorted(statuses_shown(broken.text)) == ["broken", "stale"]
    assert 'value="broken" checked' in broken.text and 'value="east"' in broken.text  # filters kept
    # The export links and the sort links carry the filters.
    assert (
        "export?view=sources&amp;unit=east&amp;status=broken&amp;status=stale&amp;format=csv" in broken.text
    )
    assert (
        "?view=sources&amp;unit=east&amp;status=broken&amp;status=stale&amp;sort=status&amp;order=asc"
        in broken.text
    )

    by_rate = admin.get("/staff/health", params={"sort": "rate_12w", "order": "desc"})
    names = re.findall(r'/staff/health/sources/\d+">([^<]+)</a>', by_rate.text)
    assert names[0] == "east-lively-feed"
    assert 'aria-sort="descending"' in by_rate.text

    searched = admin.get("/staff/health", params={"q": "WEST", "level": "branch"})
    assert re.findall(r'/staff/health/sources/\d+">([^<]+)</a>', searched.text) == ["west-lively-feed"]

    unknown = admin.get("/staff/health", params={"unit": "nowhere"})
    assert unknown.status_code == 200 and 'id="unknown-unit"' in unknown.text
    assert statuses_shown(unknown.text) == []


def test_units_view_and_the_district_rollup(admin: TestClient, tree: dict[str, int]) -> None:
    page = admin.get("/staff/health", params={"view": "units", "sort": "score", "order": "desc"})
    assert page.status_code == 200
    assert 'href="/staff/health/units/east-lively"' in page.text
    rollup = page.text[page.text.index('id="rollup"') :]
    east_row = rollup[rollup.index("/staff/health/units/east") : rollup.index("/staff/health/units/west")]
    # east: one active, one stale, one broken branch below it.
    for status in ("active", "stale", "broken"):
        assert f'unit=east&amp;status={status}">1</a>' in east_row
    assert ">3</td>" in east_row


def test_reasons_are_worded_in_the_pages_language_and_old_rows_keep_their_sentence(
    admin: TestClient, database: Database, tree: dict[str, int]
) -> None:
    source_id = tree["east-broken"]
    chinese = admin.get(f"/staff/health/sources/{source_id}").text
    timeline = chinese[chinese.index('class="timeline"') :]
    assert "最近 1 次抓取失败：HTTP 5xx 错误，HTTP 500" in timeline  # the change to broken
    assert re.search(r"最新条目在 \d+ 天前，近 12 周平均每周 [\d.]+ 条", timeline)  # the first, active
    assert "last 1 crawl failed" not in chinese
    english = admin.get(f"/staff/health/sources/{source_id}", params={"lang": "en"}).text
    assert "last 1 crawl failed: http_5xx, HTTP 500" in english and "最近" not in english
    units = admin.get("/staff/health", params={"view": "units", "unit": "east", "lang": "zh-CN"}).text
    assert re.search(r"\d+ 个信息源中最好的为(活跃|停更|故障)", units)

    # A row the sweep wrote before reasons had keys (or with values of another shape) shows its sentence.
    with database.session() as session:
        health = session.get(SourceHealth, source_id)
        assert health is not None and health.reason_data == {
            "key": "failed",
            "args": {"runs": 1, "kind": "http_5xx", "http": 500},
        }
        health.reason_data = None
        session.execute(update(HealthEvent).values(reason_data={"key": "failed", "args": {"runs": "x"}}))
    old = admin.get(f"/staff/health/sources/{source_id}", params={"lang": "zh-CN"}).text
    assert "last 1 crawl failed: http_5xx, HTTP 500" in old[: old.index('class="timeline"')]
    assert "最近" not in old[old.index('class="timeline"') :]


def test_a_source_page_has_its_timeline_and_an_accessible_weekly_chart(
    admin: TestClient, tree: dict[str, int]
) -> None:
    page = admin.get(f"/staff/health/sources/{tree['east-broken']}", params={"lang": "en"})
    assert page.status_code == 200
    html = page.text
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'role="img"' in svg and '<title id="weekly-title">' in svg and "<desc" in svg
    assert svg.count('class="bar"') == 12  # 12 weeks, each drawn (zero-height bars included)
    table = html[html.index('class="queue health-data"') :]
    rows = re.findall(r'<tr><th scope="row">[^<]+</th><td class="num">(\d+)</td></tr>', table)
    assert len(rows) == 12 and sum(map(int, rows)) == 2
    timeline = html[html.index('class="timeline"') : html.index("</ol>", html.index('class="timeline"'))]
    events = [re.sub(r"<[^>]+>|\s+", " ", item).split() for item in timeline.split("<li>")[1:]]
    assert [event[2:6] for event in events] == [
        ["Active", "→", "Broken", "last"],
        ["first", "assessment", "→", "Active"],
    ]
    assert "http_5xx" in timeline
    assert 'id="crawl-now"' in html  # admins may crawl now
    assert "<script" not in svg


def test_crawl_now_from_the_page_uses_the_staff_api_and_viewers_do_not_get_it(
    client: TestClient, database: Database, tree: dict[str, int]
) -> None:
    add_user(database, "mod", Role.MODERATOR)
    add_user(database, "look", Role.VIEWER)
    sign_in(client, "mod")
    source_id = tree["east-stale"]
    page = client.get(f"/staff/health/sources/{source_id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    posted = client.post(
        f"/staff/health/sources/{source_id}/crawl-now",
        data={"csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == f"/staff/health/sources/{source_id}?crawl=queued"
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None and source.next_check_at == NOW and source.crawl_requested_at == NOW
    assert "Queued" in client.get(posted.headers["location"] + "&lang=en").text
    # Without the session's CSRF token the form is refused.
    assert client.post(f"/staff/health/sources/{source_id}/crawl-now", data={}).status_code == 403

    client.cookies.clear()
    client.auth = ("look", STAFF_PASSWORD)
    viewer_page = client.get(f"/staff/health/sources/{source_id}")
    assert viewer_page.status_code == 200 and 'id="crawl-now"' not in viewer_page.text
    assert client.post(f"/staff/health/sources/{source_id}/crawl-now").status_code == 403


def test_a_unit_page_has_the_score_breakdown_and_the_monthly_trend(
    admin: TestClient, tree: dict[str, int]
) -> None:
    page = admin.get("/staff/health/units/east-lively", params={"lang": "en"})
    assert page.status_code == 200
    html = page.text
    assert "Activity score:" in html and "Rank 1 of 4 among Branch units" in html
    breakdown = html[html.index('id="breakdown"') : html.index("</table>", html.index('id="breakdown"'))]
    for indicator in ("Frequency", "Timeliness", "Originality", "Availability", "Moderation"):
        assert indicator in breakdown
    assert re.search(r"<td>\d+ of \d+ items are originals</td>", breakdown)
    # Each figure column with one number of decimals (weights read 0.25, 0.2, 0.15 before).
    figures = re.findall(
        r'<td class="num">([^<]*)</td>\s*<td class="num">([^<]*)</td>\s*<td class="num">([^<]*)</td>',
        breakdown,
    )
    assert len(figures) == 5
    for value, weight, points in figures:
        assert re.fullmatch(r"\d\.\d{3}|-", value) and re.fullmatch(r"\d\.\d{2}", weight), (value, weight)
        assert re.fullmatch(r"\d+\.\d|-", points), points
    assert "0.20" in [weight for _, weight, _ in figures]
    # In Chinese, what each indicator is made of is worded in Chinese too (it was English on both).
    chinese = admin.get("/staff/health/units/east-lively", params={"lang": "zh-CN"}).text
    start = chinese.index('id="breakdown"')
    table = chinese[start : chinese.index("</table>", start)]
    assert re.search(r"<td>\d+ 条中 \d+ 条为原创</td>", table)
    assert re.search(r"<td>近 12 周平均每周 [\d.]+ 条，期望每周 [\d.]+ 条</td>", table)
    assert "items/week" not in table and "originals" not in table
    trend = html[html.index('id="trend"') :]
    assert '<title id="trend-title">' in trend and ">2024-06</th>" in trend  # this month's snapshot
    assert "east-lively-feed" in html
    assert admin.get("/staff/health/units/nowhere").status_code == 404
    assert admin.get("/staff/health/sources/99999").status_code == 404


def _csv(text: str) -> list[list[object]]:
    return [[_cell(value) for value in row] for row in csv.reader(io.StringIO(text))]


@pytest.mark.parametrize("view", ["sources", "units"])
def test_exports_carry_the_rows_of_xinlian_health_report(
    admin: TestClient, database: Database, settings: Settings, tree: dict[str, int], view: str, tmp_path: Path
) -> None:
    params = {"view": view, "unit": "east", "status": ["broken", "stale"]}
    exported = admin.get("/staff/health/export", params={**params, "format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].startswith(f'attachment; filename="health-{view}-')
    with database.session() as session:
        if view == "sources":
            report = source_report(
                session, NOW, settings.timezone, settings.health.tls_warn_days, "east", ["broken", "stale"]
            )
        else:
            report = unit_report(session, settings.timezone, "east", ["broken", "stale"])
    assert exported.text == to_csv(report)  # exactly the command line's rows
    assert len(report.rows) == 2

    xlsx = admin.get("/staff/health/export", params={**params, "format": "xlsx"})
    assert xlsx.status_code == 200
    path = tmp_path / "export.xlsx"
    path.write_bytes(xlsx.content)
    sheet = load_workbook(path, read_only=True).active
    assert sheet is not None
    rows = [[_cell(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    assert rows == _csv(exported.text)

    assert admin.get("/staff/health/export", params={"unit": "nowhere"}).status_code == 404


def test_every_staff_page_links_the_dashboard(admin: TestClient, tree: dict[str, int]) -> None:
    page = admin.get("/staff/queue")
    assert page.status_code == 200
    assert 'href="/staff/health"' in page.text


def test_a_pause_is_worded_in_the_pages_language_in_the_table_and_the_timeline(
    admin: TestClient, database: Database, tree: dict[str, int]
) -> None:
    source_id = tree["east-broken"]
    why = Reason(
        reasons.PAUSED,
        {"days": 3.5, "since": "2026-03-01 08:00", "kind": "timeout", "http": None, "message": None},
    )
    change = status_change(source_id, "paused", NOW, why)
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        source.paused_at, source.pause_reason = NOW, change.reason  # as hub/schedule/reschedule.py does
        record_health_event(session, change)
    english_sentence = "failing for 3.5 days since 2026-03-01 08:00 UTC; last: timeout"
    chinese_sentence = "自 2026-03-01 08:00（UTC）起连续失败 3.5 天，已暂停抓取；最近：超时"
    table = admin.get("/staff/health", params={"paused": "1"}).text
    assert statuses_shown(table) == ["broken"]
    assert chinese_sentence in table and english_sentence not in table
    assert re.search(
        r'<span class="flag"><span class="nowrap">[\d-]{10}</span> <span class="nowrap">[\d:]{5}</span>',
        table,
    )
    page = admin.get(f"/staff/health/sources/{source_id}").text
    assert chinese_sentence in page[page.index('class="timeline"') :]
    english = admin.get("/staff/health", params={"paused": "1", "lang": "en"}).text
    assert english_sentence in english


def test_staff_pages_in_english_show_no_chinese_of_their_own(admin: TestClient, tree: dict[str, int]) -> None:
    """Every staff page outside the moderation queue, read in English, shows no Chinese of its own: only
    the seeded units' names and the switch back to Chinese. (The queue and review pages show the items'
    own text; their reason labels are checked in tests/test_moderation_ui.py.)"""
    source_id = tree["east-broken"]
    pages = [
        "/staff/health",
        "/staff/health?view=units",
        "/staff/health?paused=1",
        f"/staff/health/sources/{source_id}",
        "/staff/health/units/east",
        "/staff/sources",
        f"/staff/sources/{source_id}",
        "/staff/sources/new",
        "/staff/sources/discover",
        "/staff/users",
    ]
    found: dict[str, list[str]] = {}
    for page in pages:
        answer = admin.get(page, params={"lang": "en"})
        assert answer.status_code == 200, page
        text = SEEDED_NAME.sub("", answer.text).replace(">中文<", "><")
        if words := sorted(set(CHINESE.findall(text))):
            found[page] = words
    assert found == {}
