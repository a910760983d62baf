"""Pages and feeds no charset can read are recorded as ``encoding`` failures, not stored as mojibake
(issue 3: "each failure by kind (... parse, encoding, too large)").

decode_html/decode_feed try the HTTP charset, the BOM, the <meta>/XML declaration and detection; bytes
that fit none of them would become text of replacement characters. A list page or feed like that fails
its source with kind ``encoding``; an article page like that is noted on the outcome and not stored,
while the source's readable articles are. Mislabelled but readable pages still decode
(tests/test_decode.py).
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from crawlers.runner import crawl
from hub.db import Database
from hub.models import CrawlOutcome, Item, Source, Unit
from hub.settings import Settings
from tests.minisite import MiniSite, mini_site


def _undecodable(seed: int, size: int = 3000) -> bytes:
    """High bytes in no charset's shape: invalid UTF-8 and GB18030, nothing detection believes."""
    rng = random.Random(seed)
    return bytes(rng.randrange(128, 256) for _ in range(size))


def _source(database: Database, url: str, kind: str) -> int:
    with database.session() as session:
        unit = session.scalar(select(Unit).where(Unit.slug == "jd"))
        if unit is None:
            unit = Unit(slug="jd", name="某某街道", level="street", path="/")
            session.add(unit)
            session.flush()
        source = Source(unit_id=unit.id, name=f"来源{kind}", kind=kind, url=url)
        session.add(source)
        session.flush()
        return source.id


def _outcome(database: Database, run_id: int, source_id: int) -> CrawlOutcome:
    with database.session() as session:
        outcome = session.scalars(
            select(CrawlOutcome).where(CrawlOutcome.run_id == run_id, CrawlOutcome.source_id == source_id)
        ).one()
        session.expunge(outcome)
        return outcome


def _garbled(site: MiniSite, path: str, content_type: str, prefix: bytes, suffix: bytes, seed: int) -> str:
    site.pages[path] = (content_type, prefix + _undecodable(seed) + suffix)
    return site.base_url + path


def _article(site: MiniSite, n: int) -> str:
    return site.html(
        f"/jd/a/{n}.html",
        f"<html><head><title>通知{n}</title></head><body><h1>关于第{n}项工作的通知</h1>"
        f"<div class='info'>发布时间：2024-05-0{n + 1} 09:00</div><div class='text'>"
        f"<p>各社区：现将第{n}项工作的安排通知如下，请按时完成并报送材料，逾期不再受理。</p></div></body></html>",
    )


@pytest.mark.parametrize("fast_feeds", [True, False], ids=["fast-feed-path", "scrapy-feed-spider"])
def test_unreadable_list_page_and_feed_fail_their_source_as_encoding(
    settings: Settings, database: Database, fast_feeds: bool
) -> None:
    settings.crawl.fast_feeds = fast_feeds
    with mini_site() as site:
        list_url = _garbled(
            site,
            "/jd/list.html",
            "text/html; charset=utf-8",
            b"<html><body><ul><li>",
            b"</li></ul></body></html>",
            1,
        )
        feed_url = _garbled(
            site,
            "/jd/rss.xml",
            "application/rss+xml; charset=utf-8",
            b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>",
            b"</title></channel></rss>",
            2,
        )
        html_id = _source(database, list_url, "html")
        feed_id = _source(database, feed_url, "rss")
        summary = crawl(settings, trigger="test")
    for source_id, url in ((html_id, list_url), (feed_id, feed_url)):
        outcome = _outcome(database, summary.run_id, source_id)
        assert (outcome.status, outcome.error_kind) == ("failed", "encoding"), (url, outcome.message)
        assert "charset" in (outcome.message or "")
    with database.session() as session:
        assert session.scalars(select(Item)).all() == []
        source = session.get(Source, feed_id)
        assert source is not None and source.last_error_kind == "encoding"


def test_an_unreadable_article_is_noted_and_the_readable_ones_are_stored(
    settings: Settings, database: Database
) -> None:
    with mini_site() as site:
        for n in (0, 2):
            _article(site, n)
        _garbled(
            site,
            "/jd/a/1.html",
            "text/html; charset=utf-8",
            "<html><head><title>通知1</title></head><body><h1>关于第1项工作的通知</h1><p>".encode(),
            b"</p></body></html>",
            3,
        )
        rows = "".join(
            f"<li><a href='/jd/a/{n}.html'>关于第{n}项工作的通知</a><span>2024-05-0{n + 1}</span></li>"
            for n in range(3)
        )
        source_id = _source(database, site.html("/jd/list.html", f"<ul class='news'>{rows}</ul>"), "html")
        summary = crawl(settings, trigger="test")
    outcome = _outcome(database, summary.run_id, source_id)
    assert outcome.status == "ok" and outcome.items_new == 2
    assert "/jd/a/1.html: encoding" in (outcome.message or "")
    with database.session() as session:
        stored = {item.url.rsplit("/", 1)[-1] for item in session.scalars(select(Item))}
    assert stored == {"0.html", "2.html"}
