"""A crawl records what the source says about polling it: the feed's <ttl> and the Cache-Control
max-age of the source URL's answer reach the source row, where the adaptive schedule reads them."""

from __future__ import annotations

from sqlalchemy import select

from crawlers.runner import crawl
from hub.db import Database
from hub.models import Source, Unit
from hub.settings import Settings
from tests.minisite import mini_site

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>街道通知</title><link>{base}/</link><ttl>{ttl}</ttl>
<item><title>关于做好防汛工作的通知</title><link>{base}/a/1.html</link><guid>{base}/a/1.html</guid>
<description>各社区：请做好防汛物资储备，落实值班制度，确保汛期安全，发现险情及时上报。</description>
<pubDate>Mon, 06 May 2024 08:00:00 +0800</pubDate></item>
</channel></rss>"""


def _feed_source(database: Database, url: str) -> int:
    with database.session() as session:
        unit = Unit(slug="jd", name="某某街道", level="street", path="/")
        session.add(unit)
        session.flush()
        source = Source(unit_id=unit.id, name="通知", kind="feed", url=url)
        session.add(source)
        session.flush()
        return source.id


def _hints(database: Database, source_id: int) -> tuple[int | None, int | None]:
    with database.session() as session:
        row = session.execute(select(Source.feed_ttl_s, Source.max_age_s).where(Source.id == source_id)).one()
        return row[0], row[1]


def test_feed_ttl_and_max_age_reach_the_source(settings: Settings, database: Database) -> None:
    with mini_site() as site:
        site.pages["/feed.xml"] = ("application/rss+xml", RSS.format(base=site.base_url, ttl=90).encode())
        site.headers["/feed.xml"] = {"Cache-Control": "public, max-age=600"}
        site.html(
            "/a/1.html",
            "<html><body><h1>关于做好防汛工作的通知</h1><p>各社区：请做好防汛物资储备。</p></body></html>",
        )
        source_id = _feed_source(database, site.base_url + "/feed.xml")
        result = crawl(settings, trigger="test")
        assert result.items_new == 1
        assert _hints(database, source_id) == (90 * 60, 600)

        # The feed drops its hints: the next crawl forgets them rather than keeping stale ones.
        site.pages["/feed.xml"] = ("application/rss+xml", RSS.format(base=site.base_url, ttl="").encode())
        site.headers["/feed.xml"] = {}
        crawl(settings, trigger="test")
    assert _hints(database, source_id) == (None, None)
