"""The staff source pages (/staff/sources, issue 6) against the sample network on loopback: add a source
through the form, test it (its items shown, nothing stored), change its selectors and see the test
change, save, disable and enable, discover a sample site's homepage and add a proposal; CSRF and
cross-site refusals, viewers and moderators kept from editing, anonymous visitors sent to sign in."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.source_form import SourceForm
from hub.db import Database
from hub.health.sweep import sweep
from hub.models import Item, Role, Source, Unit
from hub.registry import import_registry
from hub.settings import Settings
from hub.timeutil import utcnow
from samplenet.model import SampleSite
from samplenet.server import RunningNetwork
from tests.fixtures.web import add_user
from tests.test_staff_auth import page_csrf, sign_in

TITLE_ROW = re.compile(r'<tr class="test-item">\s*<td class="title-cell">(?:<a [^>]*>)?([^<]*)<')


@pytest.fixture
def registry(database: Database, sample_registry_file: Path) -> None:
    """The sample network's units and their one source each (the city's list page is not one)."""
    with database.session() as session:
        import_registry(session, sample_registry_file)


def signed_in(client: TestClient, database: Database, username: str, role: Role) -> str:
    """Sign ``client`` in with a session as a new ``role`` user; its CSRF token."""
    add_user(database, username, role)
    assert sign_in(client, username).status_code == 303
    return page_csrf(client)


def site(sample_server: RunningNetwork, slug: str) -> SampleSite:
    return next(s for s in sample_server.network.sites if s.slug == slug)


def counts(database: Database) -> tuple[int, int]:
    """(sources, items) in the store."""
    with database.session() as session:
        return (
            session.scalar(select(func.count(Source.id))) or 0,
            session.scalar(select(func.count(Item.id))) or 0,
        )


def shown_titles(page: str) -> list[str]:
    """The titles of a test result's table."""
    return [html.unescape(title).strip() for title in TITLE_ROW.findall(page)]


def form_of(city_list: str, csrf: str, **fields: str) -> dict[str, str]:
    data = {"csrf_token": csrf, "unit": "city", "kind": "html", "name": "市政府通知公告", "url": city_list}
    return data | fields


def test_add_test_edit_and_disable_a_source(
    client: TestClient, database: Database, registry: None, sample_server: RunningNetwork
) -> None:
    csrf = signed_in(client, database, "boss", Role.ADMIN)
    city = site(sample_server, "city")
    city_list = f"{sample_server.base_url}/sites/city/list.html"
    before = counts(database)
    assert "来源" in client.get("/staff/queue").text  # the staff navigation links the pages

    form = client.get("/staff/sources/new")
    assert form.status_code == 200 and 'name="sel_title"' in form.text and "city" in form.text

    # Test before adding: the list page's newest articles, read as a crawl would; nothing stored.
    tested = client.post("/staff/sources/new", data=form_of(city_list, csrf, action="test"))
    assert tested.status_code == 200, tested.text
    assert shown_titles(tested.text) == [item.title for item in city.items[:10]]
    assert counts(database) == before

    added = client.post(
        "/staff/sources/new", data=form_of(city_list, csrf, action="add"), follow_redirects=False
    )
    assert added.status_code == 303 and added.headers["location"].endswith("?done=created")
    source_page = added.headers["location"].split("?")[0]
    with database.session() as session:
        source = session.scalar(select(Source).where(Source.url == city_list))
        assert source is not None and source.enabled and source.kind == "html"
        assert source.unit.slug == "city" and source.next_check_at is None  # due at the next tick
        source_id = source.id
    assert source_page == f"/staff/sources/{source_id}"
    assert counts(database) == (before[0] + 1, 0)

    # Test with the current selectors (none: detected), then with an edited title selector.
    current = client.post(source_page, data=form_of(city_list, csrf, action="test"))
    assert shown_titles(current.text) == [item.title for item in city.items[:10]]
    edited = client.post(source_page, data=form_of(city_list, csrf, action="test", sel_title="div.header a"))
    assert edited.status_code == 200
    assert shown_titles(edited.text) == [city.name] * 10
    assert 'value="div.header a"' in edited.text  # the edited form is kept for another try
    with database.session() as session:
        stored = session.get(Source, source_id)
        assert stored is not None and stored.selectors == {}  # a test stores nothing
    assert counts(database) == (before[0] + 1, 0)

    saved = client.post(
        source_page,
        data=form_of(city_list, csrf, action="save", sel_title="div.header a", interval_min="120"),
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    with database.session() as session:
        stored = session.get(Source, source_id)
        assert stored is not None
        assert stored.selectors == {"title": "div.header a"} and stored.check_interval_s == 7200
    shown = client.get(saved.headers["location"])
    assert 'value="div.header a"' in shown.text and 'id="source-done"' in shown.text

    disabled = client.post(
        f"{source_page}/enabled", data={"csrf_token": csrf, "enabled": "false"}, follow_redirects=False
    )
    assert disabled.status_code == 303
    with database.session() as session:
        stored = session.get(Source, source_id)
        assert stored is not None and not stored.enabled
    listed = client.get("/staff/sources", params={"enabled": "no"})
    assert f'id="source-{source_id}"' in listed.text
    assert f'id="source-{source_id}"' not in client.get("/staff/sources", params={"enabled": "yes"}).text
    # A disabled source is not crawled on request either.
    refused = client.post(f"{source_page}/crawl-now", data={"csrf_token": csrf}, follow_redirects=False)
    assert refused.headers["location"].endswith("?crawl=disabled")

    client.post(f"{source_page}/enabled", data={"csrf_token": csrf, "enabled": "true"})
    with database.session() as session:
        stored = session.get(Source, source_id)
        assert stored is not None and stored.enabled
    queued = client.post(f"{source_page}/crawl-now", data={"csrf_token": csrf}, follow_redirects=False)
    assert queued.headers["location"].endswith("?crawl=queued")

    # Every page also speaks English (a missing message would be a 500).
    english = client.post(
        f"{source_page}?lang=en", data=form_of(city_list, csrf, action="test", sel_item="ul[[")
    )
    assert english.status_code == 422 and "Please correct the following" in english.text
    assert "Test result" in client.post(source_page, data=form_of(city_list, csrf, action="test")).text
    assert "Check interval (minutes)" in client.get(source_page).text
    assert "Only admins" not in client.get("/staff/sources/new").text
    assert "Homepage URL" in client.get("/staff/sources/discover").text


def test_invalid_sources_are_refused_on_the_form(
    client: TestClient, database: Database, registry: None, sample_server: RunningNetwork
) -> None:
    csrf = signed_in(client, database, "boss", Role.ADMIN)
    before = counts(database)
    city_feed = f"{sample_server.base_url}/sites/city/rss.xml"  # the registry's own source of the city
    cases = {
        "not-a-url": "not an http(s) URL",
        city_feed: "already registered as source",
        f"{city_feed}#fragment": "already registered as source",  # the same page, canonically
    }
    for url, message in cases.items():
        page = client.post("/staff/sources/new", data=form_of(url, csrf, action="add", kind="feed"))
        assert page.status_code == 422 and message in page.text, url
        assert f'value="{url}"' in page.text  # what was typed stays in the form
    unknown = client.post(
        "/staff/sources/new", data=form_of(city_feed + "?x=1", csrf, action="add", unit="nowhere")
    )
    assert unknown.status_code == 422 and "no unit &#39;nowhere&#39;" in unknown.text
    bad_selector = client.post(
        "/staff/sources/new", data=form_of(city_feed + "?x=2", csrf, action="add", sel_item="ul[[")
    )
    assert bad_selector.status_code == 422 and "not a valid CSS selector or XPath" in bad_selector.text
    account = client.post("/staff/sources/new", data=form_of("", csrf, action="add", kind="account"))
    assert account.status_code == 422 and "platform and account" in account.text
    assert counts(database) == before


def test_discover_a_sample_homepage_and_add_a_proposal(
    client: TestClient, database: Database, registry: None, sample_server: RunningNetwork
) -> None:
    csrf = signed_in(client, database, "boss", Role.ADMIN)
    base = sample_server.base_url
    before = counts(database)
    page = client.get("/staff/sources/discover", params={"url": f"{base}/sites/city/", "unit": "city"})
    assert page.status_code == 200
    assert 'id="discover-count"' in page.text and page.text.count('class="proposal"') == 3
    with database.session() as session:
        feed_id = session.scalar(select(Source.id).where(Source.url == f"{base}/sites/city/rss.xml"))
    assert f'href="/staff/sources/{feed_id}"' in page.text  # the feed is registered already: no "add"
    assert page.text.count('class="actions add-proposal"') == 2  # the list page and the sitemap
    assert counts(database) == before

    # The list page's "add" button pre-fills the add form.
    forms = re.findall(
        r'<form method="get" action="/staff/sources/new" class="actions add-proposal">(.*?)</form>',
        page.text,
        re.S,
    )
    proposals = [dict(re.findall(r'name="(\w+)" value="([^"]*)"', form)) for form in forms]
    fields = next(proposal for proposal in proposals if proposal["kind"] == "html")
    assert fields["unit"] == "city" and fields["kind"] == "html"
    prefilled = client.get("/staff/sources/new", params=fields)
    assert f'value="{fields["url"]}"' in prefilled.text and 'value="city"' in prefilled.text
    added = client.post(
        "/staff/sources/new",
        data={**{k: html.unescape(v) for k, v in fields.items()}, "csrf_token": csrf, "action": "add"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert counts(database) == (before[0] + 1, 0)

    bad = client.get("/staff/sources/discover", params={"url": "ftp://example.org/"})
    assert bad.status_code == 422 and "not an http(s) URL" in bad.text


def test_list_filters_and_pages(client: TestClient, database: Database, registry: None) -> None:
    signed_in(client, database, "boss", Role.ADMIN)
    with database.session() as session:
        d02 = session.scalar(select(Unit).where(Unit.slug == "d02"))
        assert d02 is not None
        for n in range(60):
            session.add(
                Source(unit_id=d02.id, name=f"extra {n}", kind="feed", url=f"http://127.0.0.1:9/{n}.xml")
            )
        total = session.scalar(select(func.count(Source.id)))
        below_d02 = session.scalar(
            select(func.count(Source.id)).join(Unit).where(Unit.path.startswith(d02.path))
        )
    first = client.get("/staff/sources")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store, private"
    assert f"共 {total} 个来源" in first.text and first.text.count('class="source-row') == 50
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = client.get("/staff/sources", params={"page": 2})
    assert second.text.count('class="source-row') == total - 50 and 'rel="prev"' in second.text

    district = client.get("/staff/sources", params={"unit": "d02", "lang": "en"})
    assert f"{below_d02} sources" in district.text  # the district and the units below it
    accounts = client.get("/staff/sources", params={"kind": "account", "lang": "en"})
    assert "2 sources" in accounts.text
    named = client.get("/staff/sources", params={"q": "extra 5", "lang": "en"})
    assert "11 sources" in named.text  # "extra 5" and "extra 50" to "extra 59"
    unknown = client.get("/staff/sources", params={"status": "unknown", "lang": "en"})
    assert f"{total} sources" in unknown.text  # nothing assessed by the health sweep yet
    assert "There is no unit" in client.get("/staff/sources", params={"unit": "nowhere", "lang": "en"}).text
    assert client.get("/staff/sources", params={"status": "bogus"}).status_code == 422


def test_failures_are_shown_by_their_labels(client: TestClient, database: Database, registry: None) -> None:
    signed_in(client, database, "boss", Role.ADMIN)
    with database.session() as session:
        source = session.scalars(select(Source).order_by(Source.id)).first()
        assert source is not None
        source.consecutive_failures, source.last_error_kind, source.last_status_code = 2, "http_5xx", 503
        source_id, name = source.id, source.name
    listed = client.get("/staff/sources", params={"q": name, "lang": "zh-CN"}).text
    assert '<span class="meta">HTTP 5xx 错误</span>' in listed and ">http_5xx<" not in listed
    page = client.get(f"/staff/sources/{source_id}", params={"lang": "zh-CN"}).text
    assert "<dd>HTTP 5xx 错误 (HTTP 503)" in page
    english = client.get(f"/staff/sources/{source_id}", params={"lang": "en"}).text
    assert "<dd>HTTP 5xx (HTTP 503)" in english


def test_csrf_and_cross_site_posts_are_refused(
    client: TestClient, database: Database, registry: None, sample_server: RunningNetwork
) -> None:
    csrf = signed_in(client, database, "boss", Role.ADMIN)
    city_list = f"{sample_server.base_url}/sites/city/list.html"
    before = counts(database)
    no_token = form_of(city_list, "", action="add")
    refused = client.post("/staff/sources/new", data=no_token, follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text
    wrong = client.post("/staff/sources/new", data=form_of(city_list, "x" * 40, action="add"))
    assert wrong.status_code == 403
    foreign = client.post(
        "/staff/sources/new",
        data=form_of(city_list, csrf, action="add"),
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert foreign.status_code == 403
    with database.session() as session:
        source_id = session.scalar(select(Source.id).order_by(Source.id).limit(1))
    toggled = client.post(f"/staff/sources/{source_id}/enabled", data={"enabled": "false"})
    assert toggled.status_code == 403
    assert counts(database) == before
    with database.session() as session:
        assert all(session.scalars(select(Source.enabled)))


def test_viewers_and_moderators_cannot_edit(
    client: TestClient, database: Database, registry: None, sample_server: RunningNetwork
) -> None:
    with database.session() as session:
        source = session.scalar(select(Source).where(Source.url.endswith("/sites/city/rss.xml")))
        assert source is not None
        source_id, city_feed = source.id, source.url
    page_url = f"/staff/sources/{source_id}"
    csrf = signed_in(client, database, "watcher", Role.VIEWER)
    page = client.get(page_url)
    assert page.status_code == 200 and 'id="admins-only"' in page.text
    assert (
        'value="save"' not in page.text
        and 'value="test"' not in page.text
        and "toggle-enabled" not in page.text
    )
    for action in ("save", "test"):
        refused = client.post(
            page_url, data=form_of(city_feed, csrf, action=action, kind="feed", name="改名")
        )
        assert refused.status_code == 403 and "viewer" in refused.text
    assert (
        client.post(f"{page_url}/enabled", data={"csrf_token": csrf, "enabled": "false"}).status_code == 403
    )
    assert 'id="admins-only"' in client.get("/staff/sources/new").text
    assert 'id="may-not-fetch"' in client.get("/staff/sources/discover", params={"url": city_feed}).text

    client.cookies.clear()
    csrf = signed_in(client, database, "alice", Role.MODERATOR)
    page = client.get(page_url)
    assert 'value="test"' in page.text and 'value="save"' not in page.text
    tested = client.post(page_url, data=form_of(city_feed, csrf, action="test", kind="feed", name="改名"))
    assert tested.status_code == 200 and 'id="test-items"' in tested.text  # moderators may test
    saved = client.post(page_url, data=form_of(city_feed, csrf, action="save", kind="feed", name="改名"))
    assert saved.status_code == 403
    added = client.post("/staff/sources/new", data=form_of(city_feed + "?new", csrf, action="add"))
    assert added.status_code == 403
    with database.session() as session:
        stored = session.get(Source, source_id)
        assert stored is not None and stored.name != "改名" and stored.enabled


def test_anonymous_visitors_are_sent_to_sign_in(
    client: TestClient, database: Database, registry: None
) -> None:
    before = counts(database)
    for path in ("/staff/sources", "/staff/sources/new", "/staff/sources/discover", "/staff/sources/1"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/staff/login?next=")
    posted = client.post("/staff/sources/new", data={"name": "x"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"].startswith("/staff/login")
    assert counts(database) == before


def test_a_key_in_a_source_url_is_never_shown_and_survives_an_edit(
    client: TestClient, database: Database, registry: None, sample_server: RunningNetwork, settings: Settings
) -> None:
    """The sample network's account sources are bridge routes with ``?key=`` (as a registry may list
    them): staff pages show the URL with the key masked, and the form sent back as shown keeps it."""
    csrf = signed_in(client, database, "boss", Role.ADMIN)
    key = sample_server.network.access_key
    with database.session() as session:
        source = session.scalars(select(Source).where(Source.kind == "account").order_by(Source.id)).first()
        assert source is not None and f"key={key}" in source.url
        source_id, stored_url = source.id, source.url
        form = SourceForm.of_source(source).model_dump()
    assert form["url"] == stored_url.replace(key, "***")
    with database.session() as session:  # every source gets a row in the health report
        sweep(session, settings.health, settings.timezone, utcnow(), [])
    assert '<option value="weibo" selected>微博</option>' in client.get(f"/staff/sources/{source_id}").text
    pages = (
        "/staff/sources",
        f"/staff/sources/{source_id}",
        f"/staff/health/sources/{source_id}",
        "/staff/health/export?view=sources&format=csv",  # the report: CSV, XLSX, the API, the CLI
        "/api/v1/health",
    )
    for page in pages:
        shown = client.get(page)
        assert shown.status_code == 200, page
        assert key not in shown.text, page
        assert "key=***" in shown.text, page

    # "Test" with the form as shown reads the real route (the masked one would be refused by the bridge).
    tested = client.post(f"/staff/sources/{source_id}", data={**form, "csrf_token": csrf, "action": "test"})
    assert tested.status_code == 200 and len(shown_titles(tested.text)) > 0
    assert key not in tested.text
    # Saving it with another name keeps the stored key; a URL typed anew replaces it.
    saved = client.post(
        f"/staff/sources/{source_id}",
        data={**form, "name": "改名的微博", "csrf_token": csrf, "action": "save"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with database.session() as session:
        stored = session.get(Source, source_id)
        assert stored is not None and (stored.name, stored.url) == ("改名的微博", stored_url)
    typed = stored_url.replace(key, "new-key")
    client.post(
        f"/staff/sources/{source_id}", data={**form, "url": typed, "csrf_token": csrf, "action": "save"}
    )
    with database.session() as session:
        stored = session.get(Source, source_id)
        assert stored is not None and stored.url == typed
