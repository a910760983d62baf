"""Per-host politeness (issue 3: "per-host concurrency and delay"): however many requests a crawl has for
one host, at most ``crawl.concurrent_per_host`` are in flight there at once, on the Scrapy path (list and
article pages) and on the fast feed path alike, and the crawl does use that many (it is a cap, not
serial fetching). The server counts the requests it is answering at once; each answer is held a
moment so that requests the crawler sent together overlap.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from crawlers.runner import crawl
from hub.db import Database
from hub.models import Item, Source, Unit
from hub.settings import Settings
from tests.minisite import QuietHandler, serving

HOLD_S = 0.15  # how long each answer is held: long enough for concurrent requests to overlap
ARTICLES = 12
FEEDS = 8


class CountingSite:
    """A site whose handler counts requests in flight (the most at once is the figure)."""

    def __init__(self) -> None:
        self.base_url = ""
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.served = 0

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1
            self.served += 1


def _page(path: str) -> tuple[str, bytes]:
    path = re.sub(r"^/s\d+/", "/", path)  # /s<k>/...: the pages of the k-th list source of the host
    if path == "/list.html":
        links = "".join(
            f"<li><a href='a/{n}.html'>关于第{n}项工作的通知</a><span>2024-05-{n + 1:02d}</span></li>"
            for n in range(ARTICLES)
        )
        return "text/html; charset=utf-8", f"<html><body><ul class='news'>{links}</ul></body></html>".encode()
    if path.startswith("/a/"):
        n = path.removeprefix("/a/").removesuffix(".html")
        html = (
            f"<html><head><title>通知{n}</title></head><body><h1>关于第{n}项工作的通知</h1>"
            f"<div class='info'>发布时间：2024-05-01 09:00</div><div class='text'><p>各社区：现将第{n}项工作"
            "的安排通知如下，请按时完成并报送材料，逾期不再受理。</p></div></body></html>"
        )
        return "text/html; charset=utf-8", html.encode()
    if path.startswith("/feed/"):
        n = path.removeprefix("/feed/").removesuffix(".xml")
        rss = (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>栏目</title>"
            f"<item><title>第{n}号通知</title><link>http://example.invalid/{n}</link>"
            f"<description>{'通知正文。' * 80}</description><pubDate>Mon, 06 May 2024 08:00:00 GMT</pubDate>"
            "</item></channel></rss>"
        )
        return "application/rss+xml; charset=utf-8", rss.encode()
    return "", b""


@contextmanager
def counting_site() -> Iterator[CountingSite]:
    site = CountingSite()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/robots.txt":
                self.send_error(404)
                return
            site.enter()
            try:
                time.sleep(HOLD_S)
            finally:
                # Counted out before answering: the client cannot send its next request before this
                # answer, so a request that follows this one never overlaps it in the count.
                site.leave()
            content_type, body = _page(path)
            if not body:
                self.send_error(404)
                return
            self.send_body(body, {"Content-Type": content_type})

    with serving(Handler) as base_url:
        site.base_url = base_url
        yield site


def _sources(database: Database, urls: list[tuple[str, str]]) -> None:
    with database.session() as session:
        unit = Unit(slug="jd", name="某某街道", level="street", path="/")
        session.add(unit)
        session.flush()
        for n, (kind, url) in enumerate(urls):
            session.add(Source(unit_id=unit.id, name=f"栏目{n}", kind=kind, url=url))


def _items(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count(Item.id))) or 0)


@pytest.mark.parametrize("cap", [1, 3])
def test_list_and_article_pages_stay_within_the_host_cap(
    settings: Settings, database: Database, cap: int
) -> None:
    settings.crawl.concurrent_per_host = cap
    settings.crawl.processes = 1  # one process owns the host's whole budget (crawlers/partition.py)
    with counting_site() as site:
        _sources(database, [("html", f"{site.base_url}/list.html")])
        summary = crawl(settings, trigger="test")
    assert summary.items_new == ARTICLES and _items(database) == ARTICLES
    assert site.served == ARTICLES + 1
    assert site.most == cap, f"at most {site.most} requests at once, cap {cap}"


@pytest.mark.parametrize("cap", [1, 3])
def test_fast_feed_polls_stay_within_the_host_cap(settings: Settings, database: Database, cap: int) -> None:
    settings.crawl.concurrent_per_host = cap
    settings.crawl.processes = 1
    settings.crawl.fast_feeds = True
    with counting_site() as site:
        _sources(database, [("feed", f"{site.base_url}/feed/{n}.xml") for n in range(FEEDS)])
        summary = crawl(settings, trigger="test")
    assert summary.sources_ok == FEEDS and _items(database) == FEEDS
    assert site.most == cap, f"at most {site.most} requests at once, cap {cap}"


def test_a_host_split_over_two_processes_keeps_one_budget(settings: Settings, database: Database) -> None:
    """A host with more list sources than one process's share is crawled by both processes, each with
    half of its concurrency (crawlers/partition.py): together they stay at the cap."""
    cap, sources = 2, 4
    settings.crawl.concurrent_per_host = cap
    settings.crawl.processes = 2
    settings.crawl.min_sources_per_process = 1
    with counting_site() as site:
        _sources(database, [("html", f"{site.base_url}/s{k}/list.html") for k in range(sources)])
        summary = crawl(settings, trigger="test")
    assert summary.sources_ok == sources and _items(database) == sources * ARTICLES
    assert site.served == sources * (ARTICLES + 1)
    assert site.most == cap, f"at most {site.most} requests at once, cap {cap} over two processes"
