"""Widgets: the iframe page (no script, framable anywhere, its one style allowed by hash), the JSON data
(CORS *) and the script that renders it, validation of theme parameters, caching, and the snippets unit
pages show."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import html as lxml_html

from api.feeds.snippets import widget_snippets
from hub.db import Database
from hub.models import Unit
from tests.fixtures.web import PortalData, seed_portal

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def data(app: FastAPI, database: Database) -> PortalData:
    return seed_portal(database, app.state.backend)


def _style_hash(page: str) -> str:
    css = re.search(r"<style>(.*?)</style>", page, re.S)
    assert css is not None
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.group(1).encode()).digest()).decode() + "'"


def test_iframe_widget_lists_the_units_notices_as_inert_text(client: TestClient, data: PortalData) -> None:
    response = client.get("/widgets/latest", params={"unit": "east", "limit": "5"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    tree = lxml_html.fromstring(response.content)
    titles = [a.text_content() for a in tree.xpath("//li/a")]
    assert set(titles) == {"学校召开党建工作推进会", "Volunteer day", "<script>alert('x')</script>通知"}
    assert "待审核的党建简报" not in response.text
    assert tree.xpath("//script") == []  # the hostile title is text: no element came of it
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;通知" in response.text
    links = {a.get("href") for a in tree.xpath("//a")}
    assert f"{BASE}/items/{data.party_item}" in links and f"{BASE}/units/east" in links
    assert all(a.get("target") == "_blank" and "noopener" in a.get("rel") for a in tree.xpath("//a"))
    assert tree.xpath("//h2")[0].text_content() == "东城区委 · 最新发布"
    assert "2024-05-06" in response.text  # dates in the configured zone


def test_iframe_widget_may_be_framed_anywhere_but_runs_nothing(client: TestClient, data: PortalData) -> None:
    response = client.get("/widgets/latest", params={"unit": "east", "theme": "dark", "accent": "#1a7F3c"})
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors *" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy  # no script may run at all
    assert "unsafe-inline" not in policy
    assert f"style-src {_style_hash(response.text)};" in policy  # exactly the page's own style
    assert "#1a7F3c" in response.text and "#1d1f21" in response.text  # accent and dark palette
    assert "x-frame-options" not in response.headers
    # The rest of the app keeps refusing to be framed.
    assert "frame-ancestors 'none'" in client.get("/").headers["content-security-policy"]


@pytest.mark.parametrize(
    "params",
    [
        {"accent": "red"},
        {"accent": "#c00;}body{background:url(//evil.example)"},
        {"accent": "#c0"},
        {"accent": "javascript:alert(1)"},
        {"theme": "neon"},
        {"limit": "0"},
        {"limit": "21"},  # over feeds.widget_max_items
        {"lang": "fr"},
    ],
)
def test_theme_parameters_are_validated(client: TestClient, data: PortalData, params: dict[str, str]) -> None:
    for path in ("/widgets/latest", "/widgets/latest.json"):
        assert client.get(path, params={"unit": "east", **params}).status_code == 422, (path, params)


def test_unknown_unit_is_404_and_no_unit_means_every_unit(client: TestClient, data: PortalData) -> None:
    assert client.get("/widgets/latest", params={"unit": "nowhere"}).status_code == 404
    assert client.get("/widgets/latest.json", params={"unit": "nowhere"}).status_code == 404
    everyone = client.get("/widgets/latest.json").json()
    assert everyone["title"] == "最新发布" and everyone["more_url"] == f"{BASE}/"
    assert everyone["more_label"] == "更多" and everyone["lang"] == "zh-CN"
    assert len(everyone["items"]) == 3
    city_only = client.get("/widgets/latest", params={"unit": "city", "subtree": "0"})
    assert "暂无已审核发布的信息" in city_only.text  # the city itself published nothing yet


def test_language_is_the_parameter_or_the_default_never_the_cookie(
    client: TestClient, data: PortalData
) -> None:
    english = client.get("/widgets/latest", params={"unit": "east", "lang": "en"})
    assert 'lang="en"' in english.text and "latest notices" in english.text and "More" in english.text
    client.cookies.set("lang", "en")
    default = client.get("/widgets/latest", params={"unit": "east"})
    assert 'lang="zh-CN"' in default.text and "最新发布" in default.text
    assert default.headers["etag"] != english.headers["etag"]


def test_json_data_is_readable_from_any_origin(client: TestClient, data: PortalData) -> None:
    response = client.get("/widgets/latest.json", params={"unit": "east-school", "limit": "2"})
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert body["title"] == "东城实验学校党支部 · 最新发布"
    assert len(body["items"]) == 2
    for item in body["items"]:
        assert item["url"] == f"{BASE}/items/{item['id']}" and item["date"] == "2024-05-06"
        assert item["unit"] == "东城实验学校党支部"


def test_widgets_are_cacheable_and_revalidate_with_304(client: TestClient, data: PortalData) -> None:
    for path in ("/widgets/latest", "/widgets/latest.json", "/widgets/latest.js"):
        first = client.get(path, params={"unit": "east"})
        assert first.headers["cache-control"] == "public, max-age=300", path
        again = client.get(path, params={"unit": "east"}, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", path
    dark = client.get("/widgets/latest", params={"unit": "east", "theme": "dark"}).headers["etag"]
    assert dark != client.get("/widgets/latest", params={"unit": "east"}).headers["etag"]


def test_script_builds_nodes_with_text_content_only(client: TestClient) -> None:
    response = client.get("/widgets/latest.js", params={"unit": "east"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    script = response.text
    assert "textContent" in script and "latest.json" in script
    assert (
        re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", script)
        is None
    )


def test_widget_snippets_embed_the_units_widgets(
    client: TestClient, data: PortalData, database: Database
) -> None:
    with database.session() as session:
        unit = session.get(Unit, data.district_id)
        assert unit is not None
        unit.name = '东城"区委"<b>'  # a name that must not break out of the attribute
        snippets = widget_snippets(unit, BASE + "/")
        english = widget_snippets(
            unit, BASE, subtree=False, limit=8, theme="dark", accent="#0A0", language="en"
        )
    frame = lxml_html.fragment_fromstring(snippets.iframe)
    assert frame.tag == "iframe"
    assert frame.get("src") == f"{BASE}/widgets/latest?unit=east"
    assert frame.get("title") == '东城"区委"<b> · 最新发布'
    assert frame.get("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
    script = lxml_html.fragment_fromstring(snippets.script)
    assert script.tag == "script" and script.get("src") == f"{BASE}/widgets/latest.js?unit=east"
    assert script.get("async") is not None and script.text is None
    assert lxml_html.fragment_fromstring(english.iframe).get("src") == (
        f"{BASE}/widgets/latest?unit=east&subtree=0&limit=8&theme=dark&accent=%230a0&lang=en"
    )
    # What the snippets point at is served.
    for url in (
        frame.get("src"),
        lxml_html.fragment_fromstring(english.iframe).get("src"),
        script.get("src"),
    ):
        assert client.get(url.removeprefix(BASE)).status_code == 200, url
