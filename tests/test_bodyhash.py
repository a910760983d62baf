"""Body hash (crawlers/bodyhash.py): a source URL answering the same bytes as last time, with no ETag or
Last-Modified to make a 304 possible, is recorded as not modified and not parsed again; other bytes are.

The mini site sends no validators, so without the hash every crawl would parse every answer. That the
second crawl parsed nothing shows in its outcome: "not_modified" with no item seen, where a parse
would have seen (and found unchanged) every entry.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crawlers.bodyhash import body_digest
from crawlers.pool import CrawlPool
from crawlers.runner import SourceOutcome, crawl
from hub.db import Database
from hub.models import Item, Source, Unit
from hub.settings import Settings
from tests.minisite import MiniSite, mini_site

BODY = "各社区：现将近期防汛工作安排通知如下，请各单位认真组织落实，确保安全度汛，及时报送材料。" * 6


def _rss(site: MiniSite, numbers: list[int]) -> bytes:
    items = "".join(
        f"<item><title>通知{n}</title><link>{site.base_url}/a/{n}.html</link>"
        f"<pubDate>Mon, 06 May 2024 0{n}:30:00 +0800</pubDate><description>{BODY}</description></item>"
        for n in numbers
    )
    channel = f"<channel><title>t</title>{items}</channel>"
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0">{channel}</rss>'.encode()


def _article(site: MiniSite, n: int) -> None:
    site.html(
        f"/a/{n}.html",
        f"<html><head><title>关于第{n}项工作的通知</title></head><body><h1>关于第{n}项工作的通知</h1>"
        f"<div class='info'>发布时间：2024-05-0{n + 1} 09:00</div><div class='text'><p>{BODY}</p></div>"
        "</body></html>",
    )


def _list(site: MiniSite, numbers: list[int]) -> None:
    rows = "".join(
        f"<li><a href='/a/{n}.html'>关于第{n}项工作的通知</a><span>2024-05-0{n + 1}</span></li>"
        for n in numbers
    )
    site.html("/list.html", f"<html><body><ul class='news'>{rows}</ul></body></html>")


def _sitemap(site: MiniSite, numbers: list[int]) -> None:
    urls = "".join(f"<url><loc>{site.base_url}/a/{n}.html</loc></url>" for n in numbers)
    body = f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    site.pages["/sitemap.xml"] = ("application/xml", body.encode())


def _source(database: Database, kind: str, url: str) -> int:
    with database.session() as session:
        unit = Unit(slug="jd", name="某某街道", level="street", path="/")
        session.add(unit)
        session.flush()
        source = Source(unit_id=unit.id, name="通知公告", kind=kind, url=url)
        session.add(source)
        session.flush()
        return source.id


def _stored_hash(database: Database, source_id: int) -> str | None:
    with database.session() as session:
        return session.scalars(select(Source.body_hash).where(Source.id == source_id)).one()


def _once(settings: Settings, pool: CrawlPool, source_id: int) -> SourceOutcome:
    (outcome,) = crawl(settings, [source_id], trigger="test", pool=pool).outcomes
    return outcome


def _served(site: MiniSite, path: str) -> bytes:
    return site.pages[path][1]


@pytest.mark.parametrize("fast_feeds", [True, False], ids=["fast-path", "feed-spider"])
def test_feed_answering_the_same_bytes_is_not_parsed_again(
    settings: Settings, database: Database, fast_feeds: bool
) -> None:
    settings.crawl.fast_feeds = fast_feeds
    with mini_site() as site, CrawlPool(settings, 1) as pool:
        site.pages["/rss.xml"] = ("application/rss+xml; charset=utf-8", _rss(site, [1, 2]))
        source_id = _source(database, "feed", f"{site.base_url}/rss.xml")

        first = _once(settings, pool, source_id)
        assert (first.status, first.items_seen, first.items_new) == ("ok", 2, 2)
        assert _stored_hash(database, source_id) == body_digest(_served(site, "/rss.xml"))

        second = _once(settings, pool, source_id)  # same bytes, no validators
        assert (second.status, second.http_status, second.items_seen) == ("not_modified", 200, 0)

        site.pages["/rss.xml"] = ("application/rss+xml; charset=utf-8", _rss(site, [1, 2, 3]))
        third = _once(settings, pool, source_id)
        assert (third.status, third.items_seen, third.items_new) == ("ok", 3, 1)
        assert _stored_hash(database, source_id) == body_digest(_served(site, "/rss.xml"))


def test_list_page_answering_the_same_bytes_is_not_parsed_again(
    settings: Settings, database: Database
) -> None:
    with mini_site() as site, CrawlPool(settings, 1) as pool:
        for n in range(3):
            _article(site, n)
        _list(site, [0, 1])
        source_id = _source(database, "html", f"{site.base_url}/list.html")
        first = _once(settings, pool, source_id)
        assert (first.status, first.items_new) == ("ok", 2)

        second = _once(settings, pool, source_id)
        assert (second.status, second.items_seen) == ("not_modified", 0)  # no article fetched either

        _list(site, [2, 0, 1])  # a new notice on the list: read, and its articles fetched
        third = _once(settings, pool, source_id)
        assert (third.status, third.items_seen, third.items_new) == ("ok", 3, 1)


def test_sitemap_answering_the_same_bytes_is_not_parsed_again(settings: Settings, database: Database) -> None:
    with mini_site() as site, CrawlPool(settings, 1) as pool:
        for n in range(3):
            _article(site, n)
        _sitemap(site, [0, 1])
        source_id = _source(database, "sitemap", f"{site.base_url}/sitemap.xml")
        first = _once(settings, pool, source_id)
        assert (first.status, first.items_new) == ("ok", 2)
        second = _once(settings, pool, source_id)
        assert (second.status, second.items_seen) == ("not_modified", 0)
        _sitemap(site, [0, 1, 2])
        third = _once(settings, pool, source_id)
        assert (third.status, third.items_seen, third.items_new) == ("ok", 1, 1)  # only the new page


def test_hash_is_kept_only_after_a_parse_without_problems(settings: Settings, database: Database) -> None:
    with mini_site() as site, CrawlPool(settings, 1) as pool:
        _article(site, 0)
        _list(site, [0, 1])  # article 1 is missing: 404, a note on an otherwise good crawl
        source_id = _source(database, "html", f"{site.base_url}/list.html")
        first = _once(settings, pool, source_id)
        assert (first.status, first.items_new) == ("ok", 1) and first.message
        assert _stored_hash(database, source_id) is None

        _article(site, 1)  # the page is back; the list page's bytes are the same
        second = _once(settings, pool, source_id)
        assert (second.status, second.items_new) == ("ok", 1)  # read again, not skipped
        assert _stored_hash(database, source_id) == body_digest(_served(site, "/list.html"))

        site.pages["/list.html"] = ("text/html; charset=utf-8", b"<html><body>nothing</body></html>")
        for _ in range(2):  # a page that cannot be parsed is never taken for the last good one
            failed = _once(settings, pool, source_id)
            assert (failed.status, failed.error_kind) == ("failed", "parse_error")
    with database.session() as session:
        assert len(session.scalars(select(Item)).all()) == 2
