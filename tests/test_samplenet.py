"""The sample network: deterministic, every template served as real sites serve it, faults as declared."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import feedparser
import httpx
import pytest
import yaml
from lxml import etree

from crawlers.sitemaps import parse_sitemap
from samplenet import render_feeds, render_html
from samplenet.export import HTML_SELECTORS, ground_truth, registry_document
from samplenet.generate import generate_network, touch_item
from samplenet.model import FAULTS, RATE_LIMIT_RETRY_AFTER_S, TEMPLATES, SampleNetwork, SampleSite
from samplenet.server import RunningNetwork, running_network
from tests.fixtures.sample import make_sample_network


@pytest.fixture
def client(sample_server: RunningNetwork) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sample_server.base_url, timeout=10) as http:
        yield http


@pytest.fixture
def own_server() -> Iterator[RunningNetwork]:
    """A private network and server, for tests that publish."""
    with running_network(make_sample_network()) as running:
        yield running


def healthy(network: SampleNetwork, template: str) -> SampleSite:
    return next(s for s in network.sites if s.template == template and s.fault is None)


def test_same_arguments_give_the_same_network_and_bytes() -> None:
    first, second = make_sample_network(), make_sample_network()
    assert first.sites == second.sites and first.access_key == second.access_key
    base = "http://127.0.0.1:1"
    for a, b in zip(first.sites, second.sites, strict=True):
        assert render_feeds.rss_feed(a, a.items, base) == render_feeds.rss_feed(b, b.items, base)
        assert render_html.list_page(a, a.items, 1) == render_html.list_page(b, b.items, 1)
        assert render_html.article_page(a, a.items[0]) == render_html.article_page(b, b.items[0])
    assert make_sample_network(seed=2).sites != first.sites


def test_every_template_and_fault_present(sample_network: SampleNetwork) -> None:
    assert {s.template for s in sample_network.sites if s.fault is None} == {*TEMPLATES, "sitemap"}
    assert sorted(s.fault for s in sample_network.sites if s.fault) == sorted([*FAULTS, "rate_limited"])
    assert all(s.tier == "branch" for s in sample_network.sites if s.fault)
    assert {s.liveliness for s in sample_network.sites} == {"lively", "stale"}
    assert sample_network.site("city").trusted
    assert not any(s.trusted for s in sample_network.sites if s.fault or s.liveliness == "stale")
    small = generate_network(2, 2, seed=3, extras=False)  # too small for faults, yet every template
    assert {s.template for s in small.sites} == set(TEMPLATES) and not any(s.fault for s in small.sites)


def test_texts_are_chinese_notices_with_party_and_english_words(sample_network: SampleNetwork) -> None:
    items = sample_network.items()
    with_party = {i.site_slug for i in items if "党建" in i.title or any("党建" in p for p in i.paragraphs)}
    assert len(with_party) == len(sample_network.sites)
    bodies = " ".join(p for i in items for p in i.paragraphs)
    assert "WiFi" in bodies and "App" in bodies and "Smart City" in bodies
    for item in items:  # GBK sites label themselves gb2312: everything must fit in it
        item.title.encode("gb2312")
        "".join(item.paragraphs).encode("gb2312")
    assert any(i.attachments for i in items) and any(i.images for i in items)
    lively = sample_network.site("city").items[0].published_at.date()
    stale = next(s for s in sample_network.sites if s.liveliness == "stale").items[0].published_at.date()
    assert (sample_network.today - lively).days <= 3 and (sample_network.today - stale).days >= 120


def test_feeds_parse_with_their_content_types(sample_network: SampleNetwork, client: httpx.Client) -> None:
    for template, content_type in (("rss", "application/rss+xml"), ("atom", "application/atom+xml")):
        site = healthy(sample_network, template)
        response = client.get(site.source_path)
        assert response.status_code == 200
        assert response.headers["content-type"] == f"{content_type}; charset=utf-8"
        feed = feedparser.parse(response.content)
        assert not feed.bozo
        assert [e.title for e in feed.entries] == [i.title for i in site.items]
        assert feed.entries[0].link.endswith(f"/sites/{site.slug}/{site.items[0].article_path}")


def test_html_feed_advertises_its_feed_and_lists_paginate(
    sample_network: SampleNetwork, client: httpx.Client
) -> None:
    site = healthy(sample_network, "html_feed")
    page = client.get(f"/sites/{site.slug}/list.html")
    assert '<link rel="alternate" type="application/rss+xml"' in page.text
    assert client.get(site.source_path).headers["content-type"].startswith("application/rss+xml")
    plain = healthy(sample_network, "html")
    first = client.get(plain.source_path)
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    assert 'class="next" href="list_2.html"' in first.text and 'rel="alternate"' not in first.text
    second = client.get(f"/sites/{plain.slug}/list_2.html")
    assert second.status_code == 200 and plain.items[-1].title in second.text
    assert client.get(f"/sites/{plain.slug}/list_3.html").status_code == 404


def test_gbk_pages_are_gbk_bytes(sample_network: SampleNetwork, client: httpx.Client) -> None:
    site = healthy(sample_network, "gbk")
    response = client.get(site.source_path)
    assert response.headers["content-type"] == "text/html; charset=GBK"
    text = response.content.decode("gb18030")
    assert site.items[0].title in text and '<meta charset="gbk">' in text
    mislabeled = healthy(sample_network, "gbk_mislabeled")
    response = client.get(mislabeled.source_path)
    assert "gb" not in response.headers["content-type"].lower()
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    text = response.content.decode("gb18030")
    assert "charset=gb2312" in text and mislabeled.items[0].title in text


def test_article_page_with_date_line_images_and_attachments(
    sample_network: SampleNetwork, client: httpx.Client
) -> None:
    formats = {
        "full_cn": "发布时间：",
        "dash": "日期：",
        "bracket": "【发布日期】",
        "cn_numerals": "发布日期：二〇",  # 二〇二四年五月六日: Chinese numerals
        "fullwidth": "发布时间：２０",  # ２０２４－０５－０６: full-width digits
    }
    seen = set()
    for site in sample_network.sites:
        for item in [i for i in site.items if i.attachments or i.images][:2]:
            page = client.get(f"/sites/{site.slug}/{item.article_path}")
            text = page.content.decode("gb18030" if site.encoding == "gbk" else "utf-8")
            assert f"<title>{item.title} - {site.name}</title>" in text
            assert "来源：" in text and "作者：" in text and '<div class="article-body">' in text
            prefix = formats.get(item.date_style, f"{item.published_at.year}/{item.published_at.month}/")
            assert prefix in text
            seen.add(item.date_style)
            for image in item.images:
                response = client.get(f"/sites/{site.slug}/{image}")
                assert response.headers["content-type"] == "image/png"
                assert response.content.startswith(b"\x89PNG")
                assert f'src="{image.removeprefix("articles/")}"' in text
            for attachment in item.attachments:
                response = client.get(f"/sites/{site.slug}/{attachment.path}")
                assert response.status_code == 200 and len(response.content) > 20
                assert f">{attachment.name}</a>" in text
    assert seen == {"full_cn", "dash", "slash", "bracket", "cn_numerals", "fullwidth"}


def test_faults_behave_as_declared(sample_network: SampleNetwork, client: httpx.Client) -> None:
    by_fault = {s.fault: s for s in sample_network.sites if s.fault}
    assert client.get(by_fault["http_500"].source_path).status_code == 500
    with pytest.raises(httpx.TooManyRedirects):
        client.get(by_fault["redirect_loop"].source_path, follow_redirects=True)
    broken = client.get(by_fault["malformed_xml"].source_path)
    assert broken.status_code == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(broken.content)
    with pytest.raises(httpx.ReadTimeout):
        client.get(by_fault["timeout"].source_path, timeout=0.3)
    # Only the source is broken; the rest of a faulty site answers.
    assert client.get(f"/sites/{by_fault['http_500'].slug}/").status_code == 200


def test_shutdown_does_not_wait_for_delayed_responses() -> None:
    network = make_sample_network(timeout_delay_s=120.0)
    slow = next(s for s in network.sites if s.fault == "timeout")
    with running_network(network) as running, pytest.raises(httpx.ReadTimeout):
        httpx.get(running.url(slow.source_path), timeout=0.3)
    started = time.monotonic()
    with running_network(network) as running:
        pass
    assert time.monotonic() - started < 5


def test_etag_and_last_modified_give_304(sample_network: SampleNetwork, client: httpx.Client) -> None:
    path = sample_network.site("city").source_path
    first = client.get(path)
    assert first.headers["etag"] and first.headers["last-modified"]
    assert client.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": first.headers["last-modified"]}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    robots = client.get("/robots.txt")
    assert "Allow: /" in robots.text and "Sitemap:" in robots.text


def test_bridge_needs_the_access_key(sample_network: SampleNetwork, client: httpx.Client) -> None:
    accounts = [s for s in sample_network.sites if s.template == "account" and s.fault is None]
    for site in accounts:
        good = client.get(site.source_path, params={"key": sample_network.access_key})
        assert good.status_code == 200
        feed = feedparser.parse(good.content)
        assert feed.entries[0].title == site.items[0].title and "<p>" in feed.entries[0].description
        assert client.get(site.source_path, params={"key": "wrong"}).status_code == 403
        assert client.get(site.source_path).status_code == 403
    assert client.get("/bridge/weibo/user/1", params={"key": sample_network.access_key}).status_code == 404


def test_bridge_rate_limits_one_route(sample_network: SampleNetwork, client: httpx.Client) -> None:
    limited = next(s for s in sample_network.sites if s.fault == "rate_limited")
    answer = client.get(limited.source_path, params={"key": sample_network.access_key})
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) == RATE_LIMIT_RETRY_AFTER_S
    healthy = next(s for s in sample_network.sites if s.template == "account" and s.fault is None)
    assert client.get(healthy.source_path, params={"key": sample_network.access_key}).status_code == 200


def test_sitemap_only_site_and_robots(sample_network: SampleNetwork, client: httpx.Client) -> None:
    site = next(s for s in sample_network.sites if s.template == "sitemap")
    robots = client.get("/robots.txt").text
    assert f"Sitemap: {client.base_url}{site.root_path}sitemap_index.xml" in robots
    assert f"Sitemap: {client.base_url}/sites/city/sitemap.xml" in robots
    index = parse_sitemap(client.get(site.source_path).content, str(client.base_url))
    assert index is not None and index.is_index and len(index.links) == 2
    assert all(link.lastmod for link in index.links)
    pages = []
    for link in index.links:
        part = parse_sitemap(client.get(link.url).content, link.url)
        assert part is not None and not part.is_index
        pages += part.links
    assert [p.url.rsplit("/", 1)[-1] for p in pages] == [f"{i.item_id}.html" for i in site.items]
    assert [p.lastmod for p in pages] == [i.published_at.isoformat(timespec="seconds") for i in site.items]
    assert client.get(f"{site.root_path}list.html").status_code == 404  # no list page, no feed


def test_publish_adds_an_item_to_feed_and_list(own_server: RunningNetwork) -> None:
    network = own_server.network
    with httpx.Client(base_url=own_server.base_url, timeout=10) as http:
        before = http.get(network.site("city").source_path)
        created = http.post("/_control/publish", params={"site": "city"})
        assert created.status_code == 200
        data: dict[str, Any] = created.json()
        assert data["site_slug"] == "city" and data["url"].startswith(own_server.base_url)
        after = http.get(network.site("city").source_path, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and feedparser.parse(after.content).entries[0].title == data["title"]
        assert http.get(data["url"]).status_code == 200
        site = healthy(network, "html")
        item = own_server.publish(site.slug)
        assert item.title in http.get(site.source_path).text
        assert http.post("/_control/publish", params={"site": "nope"}).status_code == 404
    truth = ground_truth(network, own_server.base_url)
    assert truth["sources"][own_server.url(site.source_path)]["items"][0]["title"] == item.title


def test_delete_and_restore_an_article_at_its_source(own_server: RunningNetwork) -> None:
    """/_control/delete: the page answers 410 (city, district) or 404 (branch) and leaves the lists,
    feed and sitemap unless ?listed=1 keeps it there; /_control/restore brings it back; the ground
    truth follows."""
    network = own_server.network
    feed_site, html_site = healthy(network, "rss"), healthy(network, "html")
    assert (feed_site.tier, html_site.tier) == ("city", "branch")
    gone, lagging = feed_site.items[2], html_site.items[3]
    gone_url = own_server.url(feed_site.root_path + gone.article_path)
    lagging_url = own_server.url(html_site.root_path + lagging.article_path)
    feed_path, list_path = feed_site.source_path, html_site.source_path
    sitemap_path = f"{feed_site.root_path}sitemap.xml"
    with httpx.Client(base_url=own_server.base_url, timeout=10) as http:
        etag = http.get(feed_path).headers["etag"]
        deleted = http.post("/_control/delete", params={"site": feed_site.slug, "item": gone.item_id})
        assert deleted.status_code == 200
        assert deleted.json()["url"] == gone_url and deleted.json()["status"] == 410
        assert http.get(gone_url).status_code == 410
        feed = http.get(feed_path, headers={"If-None-Match": etag})
        assert feed.status_code == 200  # changed: the next conditional GET reads it
        assert gone_url not in [entry.link for entry in feedparser.parse(feed.content).entries]
        assert gone_url not in http.get(sitemap_path).text
        assert gone.article_path not in http.get(f"{feed_site.root_path}list.html").text

        lag = {"site": html_site.slug, "item": lagging.item_id, "listed": "1"}
        assert http.post("/_control/delete", params=lag).json()["status"] == 404  # a branch's site
        assert http.get(lagging_url).status_code == 404
        assert lagging.article_path in http.get(list_path).text  # its list still links it
        assert http.post("/_control/delete", params={**lag, "status": "410"}).json()["status"] == 410
        assert http.get(lagging_url).status_code == 410

        truth = ground_truth(network, own_server.base_url)["sources"]
        feed_truth, html_truth = truth[own_server.url(feed_path)], truth[own_server.url(list_path)]
        assert feed_truth["removed"] == [
            {"url": gone_url, "item_id": gone.item_id, "status": 410, "listed": False}
        ]
        assert html_truth["removed"] == [
            {"url": lagging_url, "item_id": lagging.item_id, "status": 410, "listed": True}
        ]
        assert gone_url not in {item["url"] for item in feed_truth["items"]}
        assert lagging_url not in {item["url"] for item in html_truth["items"]}  # its page cannot be read
        # The others keep their rows on the list: the 11th item is still on page 2.
        assert [item["list_page"] for item in html_truth["items"][8:11]] == [1, 2, 2]

        for site, item in ((feed_site, gone), (html_site, lagging)):
            restored = http.post("/_control/restore", params={"site": site.slug, "item": item.item_id})
            assert restored.status_code == 200 and restored.json()["item_id"] == item.item_id
        assert http.get(gone_url).status_code == 200 and http.get(lagging_url).status_code == 200
        assert feedparser.parse(http.get(feed_path).content).entries[2].link == gone_url  # in its place
        assert feed_site.items[2] is gone and gone_url in http.get(sitemap_path).text

        assert http.post("/_control/delete", params={"site": "nope"}).status_code == 404
        assert http.post("/_control/delete", params={"site": "city", "item": "nope"}).status_code == 404
        assert http.post("/_control/delete", params={"site": "city", "status": "500"}).status_code == 400
        assert (
            http.post("/_control/restore", params={"site": "city", "item": gone.item_id}).status_code == 404
        )
    truth = ground_truth(network, own_server.base_url)["sources"]
    assert not any(source["removed"] for source in truth.values())


def _walk(units: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for unit in units:
        yield unit
        yield from _walk(unit.get("children", []))


def test_registry_export_shape(sample_network: SampleNetwork, sample_registry_file: Any) -> None:
    document = yaml.safe_load(sample_registry_file.read_text(encoding="utf-8"))
    assert [u["slug"] for u in document["units"]] == ["city"]
    units = list(_walk(document["units"]))
    assert [u["slug"] for u in units] == [s.slug for s in sample_network.sites]
    for unit in units:
        assert {"slug", "name", "level", "type", "region", "website", "sources"} <= set(unit)
        assert unit["level"] in {"city", "district", "street", "community", "branch"}
        assert unit["type"] in {
            "government",
            "party",
            "enterprise",
            "community",
            "school",
            "hospital",
            "other",
        }
        assert isinstance(unit["region"], str) and unit["website"].endswith(f"/sites/{unit['slug']}/")
        for source in unit["sources"]:
            assert source["kind"] in {"feed", "html", "sitemap", "account"} and source["name"]
            if source["kind"] == "html":
                assert source["selectors"] == HTML_SELECTORS
            if source["kind"] == "account":
                assert source["platform"] in {"weibo", "wechat"} and source["account"]
                assert source["url"].endswith(f"?key={sample_network.access_key}")
    feed_of = healthy(sample_network, "html_feed")
    unit = next(u for u in units if u["slug"] == feed_of.slug)
    assert unit["sources"][0]["kind"] == "feed" and unit["sources"][0]["url"].endswith("/rss.xml")


def test_ground_truth_matches_what_is_served(
    sample_network: SampleNetwork, sample_server: RunningNetwork, sample_ground_truth: dict[str, Any]
) -> None:
    sources = sample_ground_truth["sources"]
    assert len(sources) == len(sample_network.sites)
    failures = {entry["failure"] for entry in sources.values() if entry["failure"]}
    assert failures == {"timeout", "http_5xx", "redirect_loop", "parse_error", "rate_limited"}
    assert all(not e["items"] for e in sources.values() if e["failure"])
    trusted = {e["site"] for e in sources.values() if e["trusted"] and e["items"]}
    assert len(trusted) >= 3
    with httpx.Client(timeout=10) as http:
        for entry in sources.values():
            for item in entry["items"][:2]:
                assert http.get(item["url"]).status_code == 200
                for url in item["attachments"]:
                    assert http.get(url).status_code == 200
    assert registry_document(sample_network, sample_server.base_url)["units"][0]["slug"] == "city"


def test_scaled_network_for_benchmarks() -> None:
    # Its generation time is a benchmark's business (bench/ingest.py), not a test's.
    network = generate_network(20, 0, seed=5, items_per_site=20, feed_sources=500)
    assert len(network.sites) == 500 and len(network.items()) == 10_000
    assert {s.template for s in network.sites} == {"rss"} and not any(s.fault for s in network.sites)
    for count in (1, 2, 7):
        assert len(generate_network(0, 0, seed=1, feed_sources=count).sites) == count


def test_an_edited_item_changes_the_feed_served_from_the_render_cache(own_server: RunningNetwork) -> None:
    """Feeds are rendered once per content (samplenet/rendercache.py): an edit (a replaced item) and a
    changed fault must still reach the next request."""
    network = own_server.network
    site = healthy(network, "rss")
    with httpx.Client(base_url=own_server.base_url, timeout=10) as http:
        before = http.get(site.source_path)
        assert (
            http.get(site.source_path, headers={"If-None-Match": before.headers["etag"]}).status_code == 304
        )
        first = site.items[0]
        touch_item(network, site.slug, first.item_id, first.published_at + timedelta(hours=1))
        after = http.get(site.source_path, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
        assert "本文已于近日更新" in after.text and "本文已于近日更新" not in before.text
        site.fault = "malformed_xml"
        broken = http.get(site.source_path)
        assert broken.status_code == 200 and broken.content != after.content
