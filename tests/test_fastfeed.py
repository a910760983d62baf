"""The fast feed path (crawlers/fastfeed/, crawl.fast_feeds on): conditional GET, robots.txt and
Crawl-delay, the SSRF guard on every hop and at connect time, size and decompression limits, timeouts.

Crawls run in the real crawl worker process against ``FaultSite``, a small site that misbehaves on
purpose, served on loopback next to the test (127.0.0.1 is allow-listed by the settings fixture;
``localhost`` is the same server under a name that is not). Times are taken on the server, never slept.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from itertools import pairwise

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from crawlers.fastfeed.worker import LIVE_POLLS_MIN, by_host_in_turn
from crawlers.ledger import SourceJob
from crawlers.runner import crawl
from hub.db import Database
from hub.models import CrawlOutcome, Item, Source, Unit
from hub.settings import Settings
from tests.fixtures.serve import serve_app

BODY = "各社区：现将近期防汛工作安排通知如下，请各单位认真组织落实，确保安全度汛。" * 8
STALL_S = 10.0
LAST_MODIFIED = "Sat, 01 Jun 2024 08:00:00 GMT"


TEASER_FIRST = 100  # the teaser feed's notices: their own pages, none shared with /feed.xml's


def rss(base: str, count: int, teaser: bool = False, first: int = 0) -> bytes:
    """An RSS 2.0 feed of ``count`` notices numbered from ``first`` (one-word descriptions when
    ``teaser``)."""
    body = "摘要" if teaser else BODY
    items = "".join(
        f"<item><title>通知 {i}</title><link>{base}/a/{i}.html</link><guid>{base}/a/{i}.html</guid>"
        f"<pubDate>Sat, 01 Jun 2024 0{i % 10}:00:00 +0800</pubDate><description>{body}</description></item>"
        for i in range(first, first + count)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>测试站</title>'
        f"<link>{base}/</link>{items}</channel></rss>"
    ).encode()


def article(i: int) -> bytes:
    """The article page of notice ``i`` (the full text of a teaser)."""
    text = "<p>" + "全文内容，完整的文章正文。" * 30 + "</p>"
    return f"<html><head><title>通知 {i}</title></head><body><h1>通知 {i}</h1>{text}</body></html>".encode()


@dataclass
class FaultSite:
    """A site that misbehaves on purpose; ``hits`` records (path, monotonic time, request headers)."""

    robots: str = "User-agent: *\nDisallow: /private/\n"
    items: int = 3  # notices in /feed.xml; tests add one to publish
    hits: list[tuple[str, float, dict[str, str]]] = field(default_factory=list)
    base: str = ""

    @property
    def port(self) -> str:
        return self.base.rsplit(":", 1)[1]

    def conditional_feed(self, request: Request) -> Response:
        body = rss(self.base, self.items)
        etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/rss+xml", headers=headers)

    def app(self) -> Starlette:
        async def handle(request: Request) -> Response:
            path = request.url.path
            self.hits.append((path, time.monotonic(), dict(request.headers)))
            redirects = {
                "/to-metadata": "http://169.254.169.254/latest/meta-data/",
                "/to-localhost": f"http://localhost:{self.port}/feed.xml",
                "/to-decimal": f"http://2130706434:{self.port}/feed.xml",
                "/loop": "/loop-again",
                "/loop-again": "/loop",
            }
            if path == "/robots.txt":
                return PlainTextResponse(self.robots)
            if path in redirects:
                return RedirectResponse(redirects[path], status_code=302)
            if path == "/moved.xml":
                return RedirectResponse(f"{self.base}/feed.xml", status_code=301)
            if path in ("/feed.xml", "/private/feed.xml"):
                return self.conditional_feed(request)
            if path == "/teasers.xml":
                # Pages of its own: two sources storing one URL with different texts make whichever
                # comes second an "update", and the order differs between crawl paths.
                teasers = rss(self.base, 2, teaser=True, first=TEASER_FIRST)
                return Response(teasers, media_type="application/rss+xml")
            if path.startswith("/a/"):
                return Response(article(int(path[3:].split(".")[0])), media_type="text/html")
            return await self.fault(path)

        return Starlette(routes=[Route("/{path:path}", handle)])

    async def fault(self, path: str) -> Response:
        if path == "/broken":
            return PlainTextResponse("oops", status_code=500)
        if path == "/busy":
            return PlainTextResponse("slow down", status_code=429, headers={"Retry-After": "7200"})
        if path == "/unavailable":
            return PlainTextResponse("maintenance", status_code=503, headers={"Retry-After": "120"})
        if path == "/malformed":
            return Response(rss(self.base, 2)[:-40], media_type="application/rss+xml")
        if path == "/big":  # declares its size: refused before the body is read
            return Response(b"<rss>" + b" " * (6 * 1024 * 1024) + b"</rss>", media_type="application/rss+xml")
        if path == "/big-stream":  # no Content-Length: cut off while streaming
            return StreamingResponse(_endless(), media_type="application/rss+xml")
        if path == "/bomb":  # 64 MiB of zeros in ~64 KiB of gzip
            headers = {"Content-Encoding": "gzip"}
            return Response(_bomb(), media_type="application/rss+xml", headers=headers)
        if path == "/stall":
            await asyncio.sleep(STALL_S)
            return Response(rss(self.base, 1), media_type="application/rss+xml")
        return PlainTextResponse("not found", status_code=404)


async def _endless() -> AsyncIterator[bytes]:
    yield b"<rss>"
    for _ in range(10_000):  # 640 MiB if nobody hangs up
        yield b" " * 65536


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)


@pytest.fixture
def site() -> Iterator[FaultSite]:
    """The fault site, served on 127.0.0.1."""
    served = FaultSite()
    with serve_app(served.app()) as base:
        served.base = base
        yield served


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"


def add_sources(database: Database, urls: list[str], kind: str = "feed") -> dict[str, int]:
    """Feed sources for ``urls`` under one branch unit; their ids by URL."""
    with database.session() as session:
        unit = session.scalar(select(Unit).where(Unit.slug == "faults"))
        if unit is None:
            unit = Unit(slug="faults", name="测试单位", level="branch")
            session.add(unit)
            session.flush()
        sources = [Source(unit_id=unit.id, name=url, kind=kind, url=url) for url in urls]
        session.add_all(sources)
        session.flush()
        return {source.url: source.id for source in sources}


def outcomes(database: Database, run_id: int) -> dict[int, CrawlOutcome]:
    """The run's outcomes by source id (detached)."""
    with database.session() as session:
        rows = session.scalars(select(CrawlOutcome).where(CrawlOutcome.run_id == run_id)).all()
        session.expunge_all()
        return {row.source_id: row for row in rows}


def with_crawl(settings: Settings, **changes: object) -> Settings:
    """``settings`` with [crawl] options changed."""
    return settings.model_copy(update={"crawl": settings.crawl.model_copy(update=changes)})


def test_conditional_get_keeps_validators_and_parses_only_changes(
    settings: Settings, database: Database, site: FaultSite
) -> None:
    assert settings.crawl.fast_feeds  # the default
    (source_id,) = add_sources(database, [site.base + "/feed.xml"]).values()

    first = outcomes(database, crawl(settings, trigger="test").run_id)[source_id]
    assert (first.status, first.http_status, first.items_new) == ("ok", 200, 3)
    assert first.requests == 1 and first.status_counts == {"200": 1} and first.bytes_received > 1000
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None and source.etag and source.last_modified == LAST_MODIFIED
        etag = source.etag

    second = outcomes(database, crawl(settings, trigger="test").run_id)[source_id]
    asked = site.hits[-1][2]
    assert (asked["if-none-match"], asked["if-modified-since"]) == (etag, LAST_MODIFIED)
    assert (second.status, second.http_status, second.items_seen, second.items_new) == (
        "not_modified",
        304,
        0,
        0,
    )
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None and (source.etag, source.last_modified) == (etag, LAST_MODIFIED)

    site.items = 4  # one more notice: a new ETag, a 200, and only the new item is new
    third = outcomes(database, crawl(settings, trigger="test").run_id)[source_id]
    assert (third.status, third.http_status, third.items_seen, third.items_new) == ("ok", 200, 4, 1)
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None and source.etag != etag
        assert len(session.scalars(select(Item.id).where(Item.source_id == source_id)).all()) == 4


def test_robots_txt_is_obeyed_with_its_crawl_delay(
    settings: Settings, database: Database, site: FaultSite
) -> None:
    site.robots = "User-agent: *\nCrawl-delay: 0.4\nDisallow: /private/\n"
    urls = [site.base + "/private/feed.xml"] + [f"{site.base}/feed.xml?copy={n}" for n in range(3)]
    ids = add_sources(database, urls)
    summary = crawl(settings, trigger="test")
    found = outcomes(database, summary.run_id)

    forbidden = found[ids[site.base + "/private/feed.xml"]]
    assert (forbidden.status, forbidden.error_kind) == ("failed", "robots")
    assert forbidden.failure_counts == {"robots": 1} and forbidden.requests == 0
    assert all(found[ids[url]].status == "ok" for url in urls[1:])
    assert "/private/feed.xml" not in [path for path, _, _ in site.hits]
    # robots.txt first, read once; then the three feeds, each at least the Crawl-delay after the one before.
    assert [path for path, _, _ in site.hits] == ["/robots.txt"] + ["/feed.xml"] * 3
    times = [at for _, at, _ in site.hits]
    assert min(later - earlier for earlier, later in pairwise(times)) >= 0.35


def test_teasers_keep_the_crawl_delay_into_the_article_pages(
    settings: Settings, database: Database, site: FaultSite
) -> None:
    site.robots = "User-agent: *\nCrawl-delay: 0.4\n"
    add_sources(database, [site.base + "/teasers.xml"])
    summary = crawl(settings, trigger="test")
    assert summary.sources_ok == 1 and summary.items_new == 2
    with database.session() as session:
        texts = session.scalars(select(Item.text)).all()
    assert all("全文内容" in text for text in texts)  # the article pages completed the teasers
    times = [at for path, at, _ in site.hits if path != "/robots.txt"]
    assert [path for path, _, _ in site.hits if path != "/robots.txt"] == [
        "/teasers.xml",
        f"/a/{TEASER_FIRST}.html",
        f"/a/{TEASER_FIRST + 1}.html",
    ]
    assert min(later - earlier for earlier, later in pairwise(times)) >= 0.35


def test_private_targets_refused_on_every_hop_and_at_connect_time(
    settings: Settings, database: Database, site: FaultSite
) -> None:
    by_name = f"http://localhost:{site.port}/feed.xml"  # a DNS name answering 127.0.0.1, not allow-listed
    redirected = [site.base + path for path in ("/to-metadata", "/to-localhost", "/to-decimal")]
    literal = f"http://0x7f.2:{site.port}/feed.xml"  # 127.0.0.2 spelled otherwise: not allow-listed
    ids = add_sources(database, [by_name, literal, *redirected])
    found = outcomes(database, crawl(settings, trigger="test").run_id)

    for url, source_id in ids.items():
        outcome = found[source_id]
        assert (outcome.status, outcome.error_kind) == ("failed", "blocked_private"), (url, outcome.message)
        assert outcome.failure_counts == {"blocked_private": 1}, url
    assert "127.0.0.1" in (found[ids[by_name]].message or "")
    assert found[ids[site.base + "/to-metadata"]].redirects == [
        {"status": 302, "url": site.base + "/to-metadata", "to": "http://169.254.169.254/latest/meta-data/"}
    ]
    # Only the redirecting pages (and robots.txt) were asked for: no refused target got a request.
    assert {path for path, _, _ in site.hits} <= {
        "/robots.txt",
        "/to-metadata",
        "/to-localhost",
        "/to-decimal",
    }

    # The same name, allow-listed by the operator, is fetched.
    allowed = with_crawl(settings, allowed_private_hosts=["127.0.0.1", "localhost"])
    again = outcomes(database, crawl(allowed, [ids[by_name]], trigger="test").run_id)[ids[by_name]]
    assert (again.status, again.items_new) == ("ok", 3)


def test_size_limits_and_decompression_bombs(settings: Settings, database: Database, site: FaultSite) -> None:
    urls = [site.base + path for path in ("/big", "/big-stream", "/bomb")]
    ids = add_sources(database, [*urls, site.base + "/feed.xml"])
    found = outcomes(database, crawl(settings, trigger="test").run_id)
    for url in urls:
        outcome = found[ids[url]]
        assert (outcome.status, outcome.error_kind) == ("failed", "too_large"), (url, outcome.message)
        assert outcome.failure_counts == {"too_large": 1}
    assert found[ids[site.base + "/feed.xml"]].items_new == 3  # the others went on


def test_a_stalled_source_times_out_without_holding_up_the_others(
    settings: Settings, database: Database, site: FaultSite
) -> None:
    patient = with_crawl(settings, download_timeout_s=6.0)
    ids = add_sources(database, [site.base + "/stall", site.base + "/feed.xml", site.base + "/teasers.xml"])
    found = outcomes(database, crawl(patient, trigger="test").run_id)
    stalled = found[ids[site.base + "/stall"]]
    assert (stalled.status, stalled.error_kind) == ("failed", "timeout")
    assert "took longer than 6.0 seconds" in (stalled.message or "")
    others = [found[ids[site.base + path]] for path in ("/feed.xml", "/teasers.xml")]
    assert all(outcome.status == "ok" for outcome in others)
    # The feed and the teasers' article pages (on Scrapy) were done long before the stalled site gave up.
    assert (stalled.finished_at - max(outcome.finished_at for outcome in others)).total_seconds() > 3


@pytest.mark.parametrize(
    ("path", "kind", "status"),
    [
        ("/missing", "http_4xx", 404),
        ("/broken", "http_5xx", 500),
        ("/unavailable", "rate_limited", 503),
        ("/loop", "redirect_loop", None),
        ("/malformed", "parse_error", 200),
    ],
)
def test_fault_kinds(
    settings: Settings, database: Database, site: FaultSite, path: str, kind: str, status: int
) -> None:
    (source_id,) = add_sources(database, [site.base + path]).values()
    outcome = outcomes(database, crawl(settings, trigger="test").run_id)[source_id]
    assert (outcome.status, outcome.error_kind, outcome.http_status) == ("failed", kind, status), (
        outcome.message
    )


def test_rate_limited_source_waits_and_unreachable_hosts_are_classified(
    settings: Settings, database: Database, site: FaultSite
) -> None:
    busy, refused, unknown = site.base + "/busy", closed_port_url(), "http://nonexistent.invalid/feed.xml"
    ids = add_sources(database, [busy, refused, unknown])
    found = outcomes(database, crawl(settings, trigger="test").run_id)
    limited = found[ids[busy]]
    assert (limited.error_kind, limited.http_status, limited.requests) == ("rate_limited", 429, 1)
    assert found[ids[refused]].error_kind == "refused"
    assert found[ids[unknown]].error_kind == "dns"
    with database.session() as session:
        source = session.get(Source, ids[busy])
        assert (
            source is not None and source.retry_after_until is not None and source.next_check_at is not None
        )
        assert 7190 <= (source.next_check_at - limited.finished_at).total_seconds() <= 7210


def test_hosts_are_taken_in_turn() -> None:
    """The window of live polls is filled host by host, so one host's many sources cannot take it all."""
    urls = ["http://a.test/1", "http://a.test/2", "http://a.test/3", "http://B.test/1", "http://c.test/1"]
    urls.append("http://b.test/2")
    jobs = [SourceJob(id=n, name=f"s{n}", kind="feed", url=url) for n, url in enumerate(urls)]
    assert [job.id for job in by_host_in_turn(jobs)] == [0, 3, 4, 1, 5, 2]


def test_more_sources_than_the_window_are_all_polled(
    settings: Settings, database: Database, site: FaultSite
) -> None:
    """A run holds at most FeedRun.window polls at once (memory stays flat at 10,000 sources); the sources
    past the window start as earlier ones finish, and every one gets its outcome."""
    count = LIVE_POLLS_MIN + 44
    ids = add_sources(database, [f"{site.base}/feed.xml?copy={n}" for n in range(count)])
    one_process = with_crawl(settings, processes=1, concurrent_requests=4)  # all 300 polls in one window
    found = outcomes(database, crawl(one_process, trigger="test").run_id)
    assert set(found) == set(ids.values())
    assert all(outcome.status == "ok" and outcome.items_seen == site.items for outcome in found.values())
