"""The portal in a real browser: Debian's Chromium, headless, driven by Playwright, on loopback only.

Search with a facet click, an item and its unit breadcrumb, suggestions while typing (the combobox and
its keys), the English switch, a moderator's approval reaching public search, and a notice full of
script that must run nothing. Screenshots of the home, search, item, unit and queue pages are kept in
test-artifacts/screenshots/ (CI keeps that folder as the run's artifacts).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from hub.db import Database
from hub.ingest import ingest
from hub.models import Role, Source, Unit
from hub.rawitem import RawItem
from index.outbox import drain_outbox
from moderation.service import approve
from tests.fixtures.web import REVIEWER, STAFF_PASSWORD, PortalData, add_user
from tests.test_portal_hostile import HOSTILE_TITLE, HOSTILE_UNIT, Hostile, hostile_pages, seed_hostile

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(app: FastAPI, portal_data: PortalData) -> Iterator[str]:
    """``app`` served by uvicorn in a background thread on a free loopback port; yields its base URL."""
    # The socket listens before the server thread starts, so the browser's first connection simply
    # waits in the backlog until uvicorn accepts it: no start-up polling, no sleeps.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class Watched:
    """A browser page and everything that went wrong on it: console errors, page errors, failed
    responses, and dialogs (alert/confirm/prompt: hostile content must never open one)."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Chromium, one per test (each test opens its own context: no shared cookies)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install-browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def watch(browser: Any, viewport: dict[str, int] = PHONE) -> Watched:
    """A new page in a fresh context, with its errors and dialogs recorded."""
    page = browser.new_context(viewport=viewport).new_page()
    watched = Watched(page)
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("response", lambda r: watched.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def on_dialog(dialog: Any) -> None:
        watched.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return watched


def _district_notice(database: Database, app: FastAPI) -> None:
    """An approved notice of the district itself, so a unit facet has something to narrow."""
    with database.session() as session:
        district = session.query(Unit).filter_by(slug="east").one()
        source = Source(
            unit_id=district.id, name="区委网站", kind="feed", url="http://127.0.0.1:8700/east/feed.xml"
        )
        session.add(source)
        session.flush()
        raw = RawItem(
            source_id=source.id,
            url="http://127.0.0.1:8700/east/1.html",
            title="东城区党建工作会议召开",
            html="<p>区委召开党建工作会议。</p>",
            published_at=datetime(2024, 5, 9, 2, 0, tzinfo=UTC),
            date_source="label",
        )
        approve(session, ingest(session, raw).item_id, REVIEWER)
    drain_outbox(database, app.state.backend)


def test_search_with_a_facet_then_item_and_its_unit_breadcrumb(
    browser: Any, live_server: str, portal_data: PortalData, database: Database, app: FastAPI
) -> None:
    from playwright.sync_api import expect

    _district_notice(database, app)
    watched = watch(browser)
    page = watched.page
    page.goto(live_server + "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    watched.shot("home-phone")
    page.get_by_role("combobox").fill("党建")
    page.get_by_role("button", name="搜索").first.click()
    page.wait_for_url("**/search?q=*")
    results = page.locator(".result-title a")
    expect(results).to_have_count(2)
    expect(page.locator(".snippet mark").first).to_have_text("党建")
    watched.shot("search-phone")

    # The unit facet narrows the results to the branch; its link is marked as the current choice.
    facet = page.locator("#facet-unit + ul").get_by_role("link", name="东城实验学校党支部")
    facet.click()
    page.wait_for_url("**unit=east-school*")
    expect(results).to_have_count(1)
    expect(results.first).to_have_text("学校召开党建工作推进会")
    expect(page.locator(".active-filters")).to_contain_text("单位：东城实验学校党支部")
    expect(page.locator("#facet-unit + ul [aria-current=true]")).to_have_text("东城实验学校党支部")

    results.first.click()
    page.wait_for_url(f"**/items/{portal_data.party_item}")
    expect(page.get_by_role("heading", level=1)).to_have_text("学校召开党建工作推进会")
    expect(page.locator(".reviewer")).to_contain_text("审核员王芳")
    expect(page.locator(".date-source")).to_have_text("（日期来源：页面标注）")
    watched.shot("item-phone")

    # Up the tree: the breadcrumb's district link opens the district's page.
    page.get_by_role("navigation", name="所属单位").get_by_role("link", name="东城区委").click()
    page.wait_for_url("**/units/east")
    expect(page.get_by_role("heading", level=1)).to_have_text("东城区委")
    expect(page.locator("#unit-notices-heading")).to_have_text("本单位及下级发布")
    expect(page.locator("textarea#snippet-1")).to_have_value(
        '<iframe src="http://127.0.0.1:8000/widgets/latest?unit=east" title="东城区委 · 最新发布"'
        ' width="100%" height="360" loading="lazy" sandbox="allow-popups allow-popups-to-escape-sandbox"'
        ' referrerpolicy="strict-origin-when-cross-origin" frameborder="0"></iframe>'
    )
    expect(page.get_by_role("button", name="复制").first).to_be_visible()  # copy.js ran
    watched.shot("unit-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server + "/")
    watched.shot("home-desktop")
    assert watched.errors == [] and watched.dialogs == []


def test_suggestions_appear_while_typing(browser: Any, live_server: str, portal_data: PortalData) -> None:
    from playwright.sync_api import expect

    watched = watch(browser)
    page = watched.page
    page.goto(live_server + "/")
    box = page.get_by_role("combobox", name="搜索通知公告")
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press_sequentially("党建工", delay=40)
    listbox = page.get_by_role("listbox", name="搜索建议")
    expect(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    expect(options).to_have_count(1)  # the pending notice's title is never suggested
    expect(options.first).to_have_text("学校召开党建工作推进会")
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#q-status")).to_have_text("1 条建议，可用上下方向键选择，回车打开。")
    page.keyboard.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", "q-suggestions-0")
    page.keyboard.press("Escape")  # closes the list, keeps the words
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("党建工")
    page.keyboard.press("ArrowDown")  # opens it again on the first title
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/items/{portal_data.party_item}")
    assert watched.errors == []


def test_english_switch_is_remembered(browser: Any, live_server: str, portal_data: PortalData) -> None:
    from playwright.sync_api import expect

    watched = watch(browser)
    page = watched.page
    page.goto(live_server + "/")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="City notices")).to_be_visible()
    page.get_by_role("link", name="Directory").click()  # the choice is kept from page to page
    expect(page.get_by_role("heading", level=1)).to_have_text("Unit directory")
    page.get_by_role("link", name="东城区委").click()
    expect(page.get_by_role("heading", name="Follow this unit")).to_be_visible()
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="订阅本单位")).to_be_visible()
    assert watched.errors == []


def test_a_moderator_approves_and_the_notice_appears_in_public_search(
    browser: Any, live_server: str, portal_data: PortalData, database: Database, app: FastAPI
) -> None:
    from playwright.sync_api import expect

    add_user(database, "alice", Role.MODERATOR)
    public = watch(browser)
    public.page.goto(live_server + "/search?q=简报")
    expect(public.page.locator(".count")).to_contain_text("共找到 0 条结果")

    staff = watch(browser, {"width": 1280, "height": 900})
    page = staff.page
    page.goto(live_server + "/staff/login")
    page.get_by_label("用户名").fill("alice")
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{live_server}/staff/queue")
    expect(page.locator(f"#item-{portal_data.pending_item}")).to_be_visible()
    staff.shot("queue-desktop")
    page.goto(f"{live_server}/staff/items/{portal_data.pending_item}")
    page.get_by_role("button", name="通过").click()
    expect(page.locator("#review")).to_have_attribute("data-state", "approved")

    drain_outbox(database, app.state.backend)  # what the worker's outbox job does next
    public.page.reload()
    results = public.page.locator(".result-title a")
    expect(results).to_have_count(1)
    expect(results.first).to_have_text("待审核的党建简报")
    results.first.click()
    expect(public.page.locator(".reviewer")).to_contain_text("责任审核人：alice")
    assert public.errors == [] and staff.errors == []


@pytest.fixture
def hostile(live_server: str, app: FastAPI, database: Database) -> Hostile:
    return seed_hostile(database, app.state.backend)


# Elements that could run script, counted in the live DOM (after the browser parsed and scripts ran).
_ACTIVE = """() => {
  const all = [...document.querySelectorAll('*')];
  const handlers = all.filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on')));
  const urls = all.filter(e => ['href', 'src', 'action', 'formaction'].some(
    n => (e.getAttribute(n) || '').trim().toLowerCase().startsWith('javascript:')));
  const scripts = [...document.scripts].filter(
    s => !s.src || new URL(s.src).pathname.indexOf('/static/') !== 0);
  const frames = document.querySelectorAll('iframe, object, embed, svg');
  return handlers.length + urls.length + scripts.length + frames.length;
}"""


def test_hostile_notice_runs_nothing_on_any_public_page(
    browser: Any, live_server: str, hostile: Hostile
) -> None:
    from playwright.sync_api import expect

    watched = watch(browser)
    page = watched.page
    for path in hostile_pages(hostile):
        page.goto(live_server + path)
        page.wait_for_load_state("load")
        assert page.evaluate(_ACTIVE) == 0, path
        # Hover and click what the markup would have turned into handlers: nothing may run.
        for text in ("紧急通知", "恶意单位"):
            found = page.get_by_text(text, exact=False)
            if found.count():
                found.first.hover()
    page.goto(live_server + f"/items/{hostile.item_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_TITLE)  # shown as text
    expect(page.get_by_role("navigation", name="所属单位")).to_contain_text(HOSTILE_UNIT)
    page.get_by_text("点我").click()  # its javascript: href was removed at ingest: not even a link
    expect(page).to_have_url(live_server + f"/items/{hostile.item_id}")
    page.goto(live_server + f"/units/{hostile.unit_slug}")
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_UNIT)
    watched.shot("hostile-unit-phone")
    assert watched.dialogs == [], "hostile content opened a dialog"
    # The notice's image points at the (absent) sample site: only that may fail to load.
    assert [e for e in watched.errors if "Failed to load resource" not in e and ":8700/" not in e] == []
