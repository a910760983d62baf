"""Sitemap sources: parsing, and crawls that fetch new and moved pages only (architecture step 4)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from crawlers.runner import SourceOutcome, crawl
from crawlers.sitemaps import (
    SitemapLink,
    changed_links,
    common_locations,
    for_site,
    parse_sitemap,
    robots_sitemaps,
)
from hub.db import Database
from hub.models import Item, SitemapEntry, Source
from hub.registry import import_registry
from hub.settings import Settings
from samplenet.export import write_registry
from samplenet.generate import publish_item, touch_item
from samplenet.server import running_network
from tests.fixtures.sample import make_sample_network

INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>/a.xml</loc><lastmod>2024-05-01</lastmod></sitemap><sitemap><loc>http://x.cn/b.xml</loc></sitemap>
</sitemapindex>"""
URLSET = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc> http://x.cn/1.html </loc>
<lastmod>2024-05-02T10:00:00+08:00</lastmod></url><url><loc>http://x.cn/2.html</loc></url>
<url><loc>javascript:alert(1)</loc></url></urlset>"""


def test_parse_index_and_urlset() -> None:
    index = parse_sitemap(INDEX, "http://x.cn/sitemap.xml")
    assert index is not None and index.is_index
    assert index.links == [
        SitemapLink("http://x.cn/a.xml", "2024-05-01"),
        SitemapLink("http://x.cn/b.xml", None),
    ]
    pages = parse_sitemap(URLSET, "http://x.cn/")
    assert pages is not None and not pages.is_index
    assert [link.url for link in pages.links] == ["http://x.cn/1.html", "http://x.cn/2.html"]
    assert pages.links[0].lastmod == "2024-05-02T10:00:00+08:00"
    assert parse_sitemap(b"<html><body>home</body></html>", "http://x.cn/") is None


def test_robots_lines_site_filter_and_common_locations() -> None:
    robots = "User-agent: *\nSitemap: http://h/sites/a/sitemap.xml\nsitemap: /sites/b/sitemap_index.xml\n"
    named = robots_sitemaps(robots, "http://h/robots.txt")
    assert named == ["http://h/sites/a/sitemap.xml", "http://h/sites/b/sitemap_index.xml"]
    assert for_site(named, "http://h/sites/b/") == ["http://h/sites/b/sitemap_index.xml"]
    assert for_site(named, "http://h/sites/c/") == []
    assert for_site(["http://h/sitemap.xml"], "http://h/") == ["http://h/sitemap.xml"]
    assert common_locations("http://h/sites/c/index.html")[:2] == [
        "http://h/sites/c/sitemap.xml",
        "http://h/sites/c/sitemap_index.xml",
    ]


def test_changed_links_are_new_or_moved() -> None:
    links = [
        SitemapLink("u1", "d1"),
        SitemapLink("u2", "d2"),
        SitemapLink("u3", None),
        SitemapLink("u4", None),
    ]
    known = {"u1": "d1", "u2": "old", "u3": "d3"}
    assert [link.url for link in changed_links(links, known)] == ["u2", "u4"]


def _seen(summary_outcomes: list[SourceOutcome], source_url: str) -> int:
    return next(o.items_seen for o in summary_outcomes if o.url == source_url)


def test_sitemap_source_fetches_new_and_moved_pages_only(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    network = make_sample_network()
    site = next(s for s in network.sites if s.template == "sitemap")
    with running_network(network) as server:
        with database.session() as session:
            import_registry(session, write_registry(tmp_path / "registry.yaml", network, server.base_url))
            source = session.scalars(select(Source).where(Source.kind == "sitemap")).one()
            source_id, url = source.id, source.url
        assert url == server.url(site.source_path)

        first = crawl(settings, [source_id], trigger="test")
        assert first.outcomes[0].status == "ok" and first.items_new == len(site.items)
        with database.session() as session:
            entries = session.scalars(select(SitemapEntry).where(SitemapEntry.source_id == source_id)).all()
            assert len(entries) == len(site.items) and all(entry.lastmod for entry in entries)

        # Nothing moved: the sitemaps are read, no page is fetched again.
        with database.session() as session:
            session.execute(update(Source).values(etag=None, last_modified=None))  # no 304 shortcut
        second = crawl(settings, [source_id], trigger="test")
        assert second.outcomes[0].status == "ok" and _seen(second.outcomes, url) == 0

        # A new page, and an old page edited (its lastmod moves): exactly those two are fetched.
        new = publish_item(
            network, site.slug, now=datetime(2024, 6, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
        )
        old = site.items[-1]
        touch_item(
            network, site.slug, old.item_id, datetime(2024, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
        )
        third = crawl(settings, [source_id], trigger="test")
        assert _seen(third.outcomes, url) == 2
        assert (third.items_new, third.items_updated) == (1, 1)
        with database.session() as session:
            urls = set(session.scalars(select(Item.url).where(Item.source_id == source_id)))
            assert server.url(f"{site.root_path}{new.article_path}") in urls
            edited = session.scalars(
                select(Item).where(Item.url == server.url(f"{site.root_path}{old.article_path}"))
            ).one()
            assert edited.revision_count == 2 and "本文已于近日更新" in edited.text


def test_sitemap_source_given_as_home_page_uses_robots(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    network = make_sample_network()
    site = next(s for s in network.sites if s.template == "sitemap")
    with running_network(network) as server:
        with database.session() as session:
            import_registry(session, write_registry(tmp_path / "registry.yaml", network, server.base_url))
            source = session.scalars(select(Source).where(Source.kind == "sitemap")).one()
            source.url = server.url(site.root_path)  # the home page: sitemaps come from robots.txt
            source_id = source.id
        summary = crawl(settings, [source_id], trigger="test")
        assert summary.outcomes[0].status == "ok", summary.outcomes[0].message
        assert summary.items_new == len(site.items)
