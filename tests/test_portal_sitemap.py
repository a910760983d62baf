"""sitemap.xml (one file, or an index of numbered parts past the size limit), robots.txt, and the
canonical and OpenGraph tags of every public page — all absolute under settings.web.base_url."""

from __future__ import annotations

import lxml.etree
import lxml.html
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routes.sitemap import Sitemap
from hub.db import Database
from tests.fixtures.web import PortalData

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
BASE = "http://127.0.0.1:8000"


def _locs(xml: bytes, tag: str = "url") -> list[str]:
    return [str(loc) for loc in lxml.etree.fromstring(xml).xpath(f"//s:{tag}/s:loc/text()", namespaces=NS)]


def test_sitemap_lists_public_pages_only(client: TestClient, portal_data: PortalData) -> None:
    answer = client.get("/sitemap.xml")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    found = _locs(answer.content)
    published = sorted((portal_data.party_item, portal_data.english_item, portal_data.hostile_item))
    assert found == [
        f"{BASE}/",
        f"{BASE}/units",
        f"{BASE}/units/city",
        f"{BASE}/units/east",
        f"{BASE}/units/east-school",
        *[f"{BASE}/items/{item_id}" for item_id in published],
    ]
    assert f"/items/{portal_data.pending_item}" not in answer.text
    lastmods = lxml.etree.fromstring(answer.content).xpath("//s:url/s:lastmod/text()", namespaces=NS)
    assert len(lastmods) == 3 and all(value.endswith("+00:00") for value in lastmods)
    assert client.get("/sitemap-1.xml").status_code == 404  # one file: no numbered parts


def test_large_sitemap_becomes_an_index_of_parts(database: Database, portal_data: PortalData) -> None:
    with database.session() as session:
        sitemap = Sitemap.load(session, BASE + "/")
        assert sitemap.total == 8 and sitemap.files(3) == 3
        index = sitemap.document(None, per_file=3)
        assert index is not None
        assert _locs(index.encode(), "sitemap") == [f"{BASE}/sitemap-{n}.xml" for n in (1, 2, 3)]
        parts = [sitemap.document(n, per_file=3) for n in (1, 2, 3)]
        urls = [url for part in parts for url in _locs((part or "").encode())]
        whole = sitemap.document(None, per_file=50_000)
        assert urls == _locs((whole or "").encode())  # the parts are the one list, cut in order
        assert _locs((parts[1] or "").encode())[0] == f"{BASE}/units/east"  # units then items
        assert sitemap.document(4, per_file=3) is None


def test_robots_txt_points_to_the_sitemap_and_keeps_staff_out(client: TestClient) -> None:
    answer = client.get("/robots.txt")
    assert answer.status_code == 200
    lines = answer.text.splitlines()
    assert "Disallow: /staff" in lines and "Disallow: /api/v1/staff" in lines
    assert "Allow: /" in lines
    assert f"Sitemap: {BASE}/sitemap.xml" in lines


def _head(html: str) -> dict[str, str]:
    head = lxml.html.fromstring(html).find("head")
    assert head is not None
    tags = {
        f"og:{m.get('property')[3:]}": m.get("content")
        for m in head.xpath('meta[starts-with(@property, "og:")]')
    }
    tags["canonical"] = head.xpath('link[@rel="canonical"]/@href')[0]
    tags["en"] = head.xpath('link[@rel="alternate"][@hreflang="en"]/@href')[0]
    return tags


def test_every_public_page_has_canonical_and_opengraph_tags(
    app: FastAPI, client: TestClient, portal_data: PortalData
) -> None:
    pages = {
        "/": f"{BASE}/",
        "/units": f"{BASE}/units",
        "/units/east": f"{BASE}/units/east",
        f"/items/{portal_data.party_item}": f"{BASE}/items/{portal_data.party_item}",
        "/search?q=党建&sort=date&page=1": f"{BASE}/search?q=%E5%85%9A%E5%BB%BA&sort=date",
    }
    for path, canonical in pages.items():
        tags = _head(client.get(path).text)
        assert tags["canonical"] == canonical, path
        assert tags["og:url"] == canonical, path
        assert tags["en"] == canonical + ("&" if "?" in canonical else "?") + "lang=en", path
        assert tags["og:site_name"] == "信链" and tags["og:title"], path
        assert tags["og:locale"] == "zh_CN", path
    item = _head(client.get(f"/items/{portal_data.party_item}").text)
    assert item["og:type"] == "article" and item["og:title"] == "学校召开党建工作推进会"
    assert item["og:description"].startswith("会议部署了党建重点任务")
    english = _head(client.get("/units/east", params={"lang": "en"}).text)
    assert english["og:locale"] == "en_US" and english["og:url"] == f"{BASE}/units/east?lang=en"
    assert 'content="noindex, follow"' in client.get("/search").text  # result pages are not indexed
