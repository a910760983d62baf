"""The staff moderation pages in a real browser: keyboard shortcuts decide through the staff API."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from hub.db import Database
from hub.models import Item, Role
from tests.fixtures.web import STAFF_PASSWORD, add_user
from tests.moderation_seed import Queue, seed_queue
from tests.test_browser_portal import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


@pytest.fixture
def queue(database: Database) -> Queue:
    seeded = seed_queue(database)
    add_user(database, "alice", Role.MODERATOR)
    return seeded


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


def test_keyboard_approve_and_reject_from_the_queue(
    staff_server: str, queue: Queue, database: Database
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install-browser)")
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(http_credentials={"username": "alice", "password": STAFF_PASSWORD})
            page = context.new_page()
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(staff_server + "/staff/queue")
            first = page.locator("tr.queue-row").first
            expect(first).to_have_attribute("data-item", str(queue.east_hit))  # riskiest first
            page.keyboard.press("j")
            expect(first).to_have_class("queue-row overdue current")
            page.keyboard.press("a")
            expect(first).to_have_attribute("data-state", "approved")
            expect(first.locator(".state")).to_have_text("已发布")
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

            # On the review page, a approves the item shown.
            page.goto(f"{staff_server}/staff/items/{queue.west_clean}")
            page.keyboard.press("a")
            expect(page.locator("#review")).to_have_attribute("data-state", "approved")
            assert _state(database, queue.west_clean) == "approved"
        finally:
            browser.close()
    assert errors == []
