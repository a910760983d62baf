"""The staff moderation pages in a real browser: sign in through the form, keyboard shortcuts decide
through the staff API (with the session's CSRF token), sign out."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from hub.db import Database
from hub.ingest import ingest
from hub.models import Item, Role, Source
from tests.fixtures.web import STAFF_PASSWORD, add_user
from tests.moderation_seed import HIT_BODY, T0, Queue, raw, seed_queue
from tests.test_browser_portal import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


@pytest.fixture
def queue(database: Database) -> Queue:
    seeded = seed_queue(database)
    add_user(database, "alice", Role.MODERATOR)
    return seeded


@pytest.fixture
def extra_hit(database: Database, queue: Queue) -> int:
    """One more pending item with a hit, newest of all: third in the risk-first queue."""
    with database.session() as session:
        source = session.scalars(select(Source).where(Source.unit_id == queue.west)).one()
        return ingest(session, raw(source, 6, HIT_BODY), now=T0 + timedelta(hours=6)).item_id


@pytest.fixture
def staff_server(app: FastAPI, queue: Queue) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port (listening before the thread starts)."""
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


def _state(database: Database, item_id: int) -> str:
    with database.session() as session:
        item = session.get(Item, item_id)
        assert item is not None
        return item.state


def _luminance(css_colour: str) -> float:
    """WCAG relative luminance of an ``rgb(r, g, b)`` / ``rgba(...)`` computed colour."""
    channels = [int(part) / 255 for part in re.findall(r"\d+", css_colour)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _header_link_contrast(page: Any) -> list[tuple[str, float]]:
    """(text, WCAG contrast ratio against the header's background) of every link in the staff header."""
    background, links = page.evaluate(
        """() => {
            const header = document.querySelector("header.staff-header");
            const links = Array.from(header.querySelectorAll("a"))
                .filter((a) => a.offsetParent !== null)
                .map((a) => [a.textContent.trim(), getComputedStyle(a).color]);
            return [getComputedStyle(header).backgroundColor, links];
        }"""
    )
    assert len(links) >= 4  # brand, the page links, the language switch
    back = _luminance(background)
    ratios = []
    for text, colour in links:
        lighter, darker = sorted((_luminance(colour), back), reverse=True)
        ratios.append((text, (lighter + 0.05) / (darker + 0.05)))
    return ratios


def test_keyboard_approve_and_reject_from_the_queue(
    staff_server: str, queue: Queue, extra_hit: int, database: Database, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install-browser)")
    from playwright.sync_api import expect, sync_playwright

    screenshot_dir = tmp_path
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            page = context.new_page()
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: errors.append(str(error)))
            # The queue sends an anonymous visitor to the sign-in form, which brings them back.
            page.goto(staff_server + "/staff/queue")
            expect(page).to_have_url(f"{staff_server}/staff/login?next=/staff/queue")
            page.get_by_label("用户名").fill("alice")
            page.get_by_label("密码").fill(STAFF_PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page).to_have_url(f"{staff_server}/staff/queue")
            page.screenshot(path=str(screenshot_dir / "signed-in.png"), full_page=True)
            for text, ratio in _header_link_contrast(page):  # the language switch was dark red on red
                assert ratio >= 4.5, f"header link {text!r}: contrast {ratio:.1f} against the header"
            first = page.locator("tr.queue-row").first
            expect(first).to_have_attribute("data-item", str(queue.east_hit))  # riskiest first
            page.keyboard.press("j")
            expect(first).to_have_class("queue-row overdue current")
            page.keyboard.press("a")
            expect(first).to_have_attribute("data-state", "approved")
            expect(first.locator(".state")).to_have_text("已发布")
            expect(page.locator("#status")).to_have_text(f"#{queue.east_hit}：已发布")  # the page's language
            assert _state(database, queue.east_hit) == "approved"

            # The selection moved on to the next row: r asks for a reason code, then rejects.
            second = page.locator(f"#item-{queue.west_hit}")
            expect(second).to_have_class("queue-row overdue current")
            page.keyboard.press("r")
            dialog = page.locator("#reason-dialog")
            expect(dialog).to_be_visible()
            dialog.locator("#reason-code").select_option("classified_marking")
            dialog.get_by_role("button", name="确定").click()
            expect(second).to_have_attribute("data-state", "rejected")
            assert _state(database, queue.west_hit) == "rejected"

            # c claims the selected row; then bulk approve of every row approves only the clean items.
            third = page.locator(f"#item-{extra_hit}")
            expect(third).to_have_class("queue-row overdue current")
            page.keyboard.press("c")
            expect(third.locator(".claim")).to_have_text("alice")
            expect(page.locator("#status")).to_have_text(f"#{extra_hit}：已认领")
            page.locator("#pick-all").check()
            page.get_by_role("button", name="批量通过（仅无命中）").click()
            # Decided rows are not picked; the item with a hit is refused.
            expect(page.locator("#status")).to_have_text("通过：3 / 4 条完成")
            # Why, in Chinese; the service's own message (which hits) is the tooltip.
            expect(third.locator(".state")).to_have_text("有筛查命中，请逐条审核")
            expect(third.locator(".state")).to_have_attribute("data-refusal", "has_hits")
            expect(third.locator(".state")).to_have_attribute("title", re.compile("screening hit"))
            clean = [*queue.east_clean, queue.west_clean]
            assert [_state(database, i) for i in clean] == ["approved"] * 3
            page.screenshot(path=str(screenshot_dir / "queue.png"), full_page=True)

            # On the review page, the hit is marked; j jumps to it and a approves the item shown.
            page.goto(f"{staff_server}/staff/items/{extra_hit}")
            expect(page.locator("#review-text mark").first).to_have_text("内部资料")
            page.keyboard.press("j")
            expect(page.locator("#review-text mark").first).to_be_focused()
            page.screenshot(path=str(screenshot_dir / "review.png"), full_page=True)
            page.keyboard.press("a")
            expect(page.locator("#review")).to_have_attribute("data-state", "approved")
            assert _state(database, extra_hit) == "approved"

            # Signing out ends the session: the queue asks for the sign-in form again.
            page.get_by_role("button", name="退出登录").click()
            expect(page.locator(".notice-info")).to_have_text("您已退出登录。")
            page.goto(staff_server + "/staff/queue")
            expect(page).to_have_url(f"{staff_server}/staff/login?next=/staff/queue")
        finally:
            browser.close()
    assert errors == []


_LINES_PER_LABEL = """() => Array.from(document.querySelectorAll(
    ".hits th, .audit th, .users th, .users .title-cell strong")).map((element) => {
        const range = document.createRange();
        range.selectNodeContents(element);
        const tops = new Set(Array.from(range.getClientRects()).map((rect) => Math.round(rect.top)));
        return [element.textContent.trim(), tops.size];
    })"""


def test_staff_pages_fit_a_phone(staff_server: str, queue: Queue, database: Database) -> None:
    """At 390 px the review page's hit and history tables and the users table squeezed their headings
    and user names to one character a line, and the users and source pages scrolled sideways as a
    whole. The tables now scroll inside their own region and the form fields fit the screen."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install-browser)")
    from playwright.sync_api import expect, sync_playwright

    add_user(database, "root", Role.ADMIN)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
            page.goto(staff_server + "/staff/login")
            page.get_by_label("用户名").fill("root")
            page.get_by_label("密码").fill(STAFF_PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page).to_have_url(f"{staff_server}/staff/queue")
            for path, tables in ((f"/staff/items/{queue.east_hit}", 2), ("/staff/users", 1)):
                page.goto(staff_server + path)
                assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
                labels = page.evaluate(_LINES_PER_LABEL)
                assert len(labels) >= 5, (path, labels)
                assert [label for label, lines in labels if lines != 1] == [], path
                assert page.locator(".table-scroll[role=region] table").count() == tables, path
            # The queue: eight columns left each title two characters wide; a row is now a card.
            page.goto(staff_server + "/staff/queue")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            first = page.locator("tr.queue-row").first
            title = first.locator(".title-cell").bounding_box()
            approve = first.get_by_role("button", name="通过").bounding_box()
            assert title is not None and title["width"] >= 250
            assert approve is not None and approve["x"] + approve["width"] <= 390
            heading = first.locator("td.age").evaluate("(cell) => getComputedStyle(cell, '::before').content")
            assert heading == '"等待"'
            select_all = page.locator("label.pick-all .phone-label")  # the lone box says what it does
            expect(select_all).to_be_visible()
            expect(select_all).to_have_text("全选")
            # The source list scrolls in its region, each source's name a readable column wide.
            page.goto(staff_server + "/staff/sources")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            name = page.locator("tr.source-row td.title-cell").first.bounding_box()
            assert name is not None and name["width"] >= 150
            # The source forms: the 60-character URL field pushed the page to 505 px, and text fields
            # were 20 px tall beside 44 px selects.
            with database.session() as session:
                source_id = session.scalars(select(Source.id).limit(1)).one()
            # A source's weekly chart: its axis labels shrank to a 7 px font on a phone.
            page.goto(f"{staff_server}/staff/health/sources/{source_id}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            label = page.locator(".health-chart text.tick").last.bounding_box()
            assert label is not None and label["height"] >= 10
            for path in (f"/staff/sources/{source_id}", "/staff/sources/new"):
                page.goto(staff_server + path)
                assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
                fields = page.locator("#source-form input:not([type=hidden])")
                assert fields.count() >= 10, path
                for box in (fields.nth(i).bounding_box() for i in range(fields.count())):
                    assert box is not None and box["x"] + box["width"] <= 390 and box["height"] >= 44, path
        finally:
            browser.close()
