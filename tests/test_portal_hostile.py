"""Crawled content is untrusted: a notice carrying <script>, onerror= and javascript: links shows as inert
text, or not at all, on every public page (home, search, item, unit, directory). The browser test in
tests/test_browser_portal.py loads the same pages in Chromium and checks that nothing runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import lxml.html
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.db import Database
from hub.ingest import ingest
from hub.models import Source
from hub.rawitem import Attachment, RawItem
from index.backend import SearchBackend
from index.outbox import drain_outbox
from moderation.service import approve
from tests.fixtures.web import REVIEWER, add_unit

HOSTILE_TITLE = "<img src=x onerror=alert(1)>紧急通知<script>alert(2)</script>"
HOSTILE_UNIT = "<b onmouseover=alert(3)>恶意单位</b>"
HOSTILE_BODY = (
    '<p>正文开始<img src="x" onerror="alert(4)"><a href="javascript:alert(5)">点我</a>'
    '<script>alert(6)</script><a href="http://127.0.0.1:8700/ok.html" onclick="alert(7)">好链接</a>'
    '<iframe src="javascript:alert(8)"></iframe><svg onload="alert(9)"></svg>'
    '<a href=" JaVaScRiPt:alert(10)">大小写</a>'
    '<form action="javascript:alert(11)"><button>提交</button></form></p>'
)
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "data")


@dataclass(frozen=True, slots=True)
class Hostile:
    """The hostile unit's slug and its approved notice."""

    unit_slug: str
    item_id: int


def seed_hostile(database: Database, backend: SearchBackend) -> Hostile:
    """A unit with markup in its name and website, and an approved notice of it full of script."""
    with database.session() as session:
        unit = add_unit(session, "hostile-unit", HOSTILE_UNIT, "city")
        unit.website = "javascript:alert(12)"
        source = Source(
            unit_id=unit.id,
            name="<script>alert(13)</script>源",
            kind="feed",
            url="http://127.0.0.1:8700/h.xml",
        )
        session.add(source)
        session.flush()
        raw = RawItem(
            source_id=source.id,
            url="http://127.0.0.1:8700/h/1.html",
            title=HOSTILE_TITLE,
            html=HOSTILE_BODY,
            summary='<img src=x onerror="alert(14)">摘要',
            author="<script>alert(15)</script>",
            origin='"><svg onload=alert(16)>',
            published_at=datetime(2024, 5, 7, 1, 0, tzinfo=UTC),
            date_source="label",
            attachments=[
                Attachment("恶意附件", "javascript:alert(17)"),
                Attachment("正常附件", "http://127.0.0.1:8700/a.pdf"),
            ],
            images=["javascript:alert(18)"],
        )
        item_id = ingest(session, raw).item_id
        approve(session, item_id, REVIEWER)
    drain_outbox(database, backend)
    return Hostile("hostile-unit", item_id)


def hostile_pages(hostile: Hostile) -> list[str]:
    """Every public page the hostile notice or unit appears on."""
    return [
        "/",
        "/search?q=紧急通知",
        "/search?q=正文开始",
        f"/items/{hostile.item_id}",
        f"/units/{hostile.unit_slug}",
        "/units",
    ]


def assert_inert(html: str, where: str) -> None:
    """No element of the page can run script: no on* attribute, no javascript: URL, no script but ours,
    no frames, objects or SVG."""
    document = lxml.html.fromstring(html)
    for element in document.iter():
        if not isinstance(element.tag, str):
            continue  # comments
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"{where}: {element.tag} {name}={value}"
            if name.lower() in URL_ATTRIBUTES:
                assert not value.strip().lower().startswith(("javascript:", "data:text")), (
                    f"{where}: {name}={value}"
                )
        tag = element.tag.lower()
        assert tag not in ("iframe", "object", "embed", "svg", "base", "form") or (
            tag == "form" and element.get("action", "").startswith("/")
        ), f"{where}: <{tag}>"
        if tag == "script":
            assert element.get("src", "").startswith("/static/") and not (element.text or "").strip(), where


@pytest.fixture
def hostile(app: FastAPI, database: Database) -> Hostile:
    return seed_hostile(database, app.state.backend)


def test_hostile_notice_is_inert_on_every_public_page(client: TestClient, hostile: Hostile) -> None:
    for path in hostile_pages(hostile):
        page = client.get(path)
        assert page.status_code == 200, path
        assert_inert(page.text, path)


def test_hostile_title_and_unit_show_as_text(client: TestClient, hostile: Hostile) -> None:
    for path in ("/", "/search?q=紧急通知", f"/items/{hostile.item_id}", f"/units/{hostile.unit_slug}"):
        text = lxml.html.fromstring(client.get(path).text).text_content()
        assert HOSTILE_TITLE in text or HOSTILE_UNIT in text, path
    item = client.get(f"/items/{hostile.item_id}").text
    text = lxml.html.fromstring(item).text_content()
    assert HOSTILE_TITLE in text and HOSTILE_UNIT in text
    assert "好链接" in text and "正常附件" in text
    assert "恶意附件" not in text  # an attachment without an http(s) URL is left out
    assert 'href="http://127.0.0.1:8700/ok.html"' in item
