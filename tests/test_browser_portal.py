"""The portal in a real browser: Debian's Chromium, headless, driven by Playwright, on loopback only."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from tests.fixtures.web import PortalData

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]

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


def test_search_and_open_an_item(live_server: str, portal_data: PortalData) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install-browser)")
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(live_server + "/")
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            page.get_by_role("combobox").fill("党建")
            page.get_by_role("button", name="搜索").first.click()
            page.wait_for_url("**/search?q=*")
            results = page.locator(".result-title a")
            expect(results).to_have_count(1)
            expect(page.locator(".snippet mark").first).to_have_text("党建")
            results.first.click()
            page.wait_for_url(f"**/items/{portal_data.party_item}")
            expect(page.get_by_role("heading", level=1)).to_have_text("学校召开党建工作推进会")
            expect(page.locator(".reviewer")).to_contain_text("审核员王芳")
        finally:
            browser.close()
    assert errors == []
