"""Widgets on another site, in a real browser (Debian's Chromium, headless, Playwright, loopback only).

A page served from a second origin, with a strict CSP of its own, embeds the iframe widget and the script
widget of a unit: both show the unit's latest notices, and a notice whose title carries <script> or an
onerror= handler shows as text, with no dialog and no element made of it.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from api.feeds.snippets import widget_snippets
from hub.db import Database
from hub.ingest import ingest
from hub.models import Source, Unit
from hub.rawitem import RawItem
from index.outbox import drain_outbox
from moderation.service import approve
from tests.fixtures.web import REVIEWER, PortalData, seed_portal
from tests.minisite import QuietHandler

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
ONERROR_TITLE = "<img src=x onerror=alert(7)>停水公告"

pytestmark = pytest.mark.browser


@pytest.fixture
def data(app: FastAPI, database: Database) -> PortalData:
    """The portal seed plus a notice whose title carries an onerror handler."""
    portal = seed_portal(database, app.state.backend)
    with database.session() as session:
        source = session.query(Source).filter(Source.unit_id == portal.branch_id).one()
        item = ingest(
            session,
            RawItem(
                source_id=source.id,
                url="http://127.0.0.1:8700/n/5.html",
                title=ONERROR_TITLE,
                html="<p>明日停水。</p>",
                published_at=datetime(2024, 5, 9, 1, 0, tzinfo=UTC),
                date_source="label",
            ),
        ).item_id
        approve(session, item, REVIEWER)
    drain_outbox(database, app.state.backend)
    return portal


def _listening() -> tuple[socket.socket, int]:
    # Listening before the server thread starts: the browser's first connection waits in the backlog.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock, sock.getsockname()[1]


@pytest.fixture
def hub_origin(app: FastAPI, data: PortalData) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port."""
    sock, port = _listening()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-widgets", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def branch_site(hub_origin: str, database: Database, data: PortalData) -> Iterator[str]:
    """A unit's own site on another origin (another port), embedding both widgets of the district."""
    with database.session() as session:
        unit = session.get(Unit, data.district_id)
        assert unit is not None
        snippets = widget_snippets(unit, hub_origin, limit=10, theme="dark", accent="#1a7f3c")
    page = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>东城实验学校</title></head>"
        f"<body><h1>学校主页</h1><div id='frame'>{snippets.iframe}</div>"
        f"<div id='script'>{snippets.script}</div></body></html>"
    ).encode()
    # The site's own CSP is strict: no inline script or style; only the hub may be framed, loaded, fetched.
    policy = (
        f"default-src 'self'; script-src {hub_origin}; connect-src {hub_origin}; frame-src {hub_origin};"
        " style-src 'self'"
    )

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            headers = {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": policy}
            self.send_body(page if self.path == "/" else b"", headers, 200 if self.path == "/" else 204)

    sock, port = _listening()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    thread = threading.Thread(target=server.serve_forever, name="branch-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_both_widgets_show_the_latest_notices_on_another_origin(
    branch_site: str, hub_origin: str, data: PortalData
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install-browser)")
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    dialogs: list[str] = []
    expected = ["<img src=x onerror=alert(7)>停水公告", "<script>alert('x')</script>通知"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(branch_site + "/")

            frame = page.frame_locator("#frame iframe")
            frame_titles = frame.locator("li a")
            expect(frame_titles).to_have_count(4)
            expect(frame.locator("h2")).to_have_text("东城区委 · 最新发布")
            assert frame_titles.all_text_contents()[:2] == expected
            expect(frame.locator("img")).to_have_count(0)
            expect(frame.locator("li script")).to_have_count(0)

            scripted = page.locator(
                "#script .xinlian-widget li a"
            )  # Playwright's CSS pierces the shadow root
            expect(scripted).to_have_count(4)
            assert scripted.all_text_contents()[:2] == expected
            # Links lead to the portal's public URL (web.base_url), where the notice's page lives.
            expect(scripted.first).to_have_attribute(
                "href", re.compile(r"^http://127\.0\.0\.1:8000/items/\d+$")
            )
            expect(page.locator("#script .xinlian-widget img")).to_have_count(0)
            expect(page.locator("#script .xinlian-widget h2")).to_have_text("东城区委 · 最新发布")
            background = page.locator("#script .xinlian-widget section").evaluate(
                "node => getComputedStyle(node).backgroundColor"
            )
            assert background == "rgb(29, 31, 33)"  # the dark theme, styled under the site's strict CSP
        finally:
            browser.close()
    assert dialogs == []
    assert errors == []
