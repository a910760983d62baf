"""Fetching (docs/architecture.md step 4): SSRF guard on redirects, Crawl-delay, permanent redirects,
Retry-After, size cap, br, per-source statistics, and a stalled site that does not hold up the others.

A small "hostile" site is served next to the sample network; the crawls run in the real worker
process. Times are measured on the server (request arrival) and on the outcomes, never slept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import brotli
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from crawlers.runner import crawl
from hub.db import Database
from hub.models import CrawlOutcome, Source, Unit
from hub.registry import import_registry
from hub.settings import Settings
from hub.timeutil import utcnow
from tests.fixtures.serve import serve_app

STALL_S = 60.0


def _rss(base: str, count: int, teaser: bool) -> bytes:
    body = "短" if teaser else "这是一条完整的通知正文，内容足够长。" * 20
    items = "".join(
        f"<item><title>通知 {i}</title><link>{base}/a/{i}.html</link><guid>{base}/a/{i}.html</guid>"
        f"<pubDate>Sat, 01 Jun 2024 0{i}:00:00 +0800</pubDate><description>{body}</description></item>"
        for i in range(count)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>测试站</title>'
        f"<link>{base}/</link>{items}</channel></rss>"
    ).encode()


def _article(i: int) -> bytes:
    text = "<p>" + "全文内容，完整的文章正文。" * 30 + "</p>"
    return f"<html><head><title>通知 {i}</title></head><body><h1>通知 {i}</h1>{text}</body></html>".encode()


@dataclass
class HostileSite:
    """A site that misbehaves on purpose; ``hits`` records (path, monotonic time) of every request."""

    robots: str = "User-agent: *\nAllow: /\n"
    hits: list[tuple[str, float]] = field(default_factory=list)
    base: str = ""

    def app(self) -> Starlette:
        async def handle(request: Request) -> Response:
            path = request.url.path
            self.hits.append((path, time.monotonic()))
            base = self.base
            redirects = {
                "/to-metadata": "http://169.254.169.254/latest/meta-data/",
                "/to-localhost": f"http://localhost:{request.url.port}/feed.xml",
                "/to-127-2": f"http://127.2:{request.url.port}/feed.xml",
                "/to-decimal": f"http://2130706434:{request.url.port}/feed.xml",
                "/to-mapped": f"http://[::ffff:127.0.0.1]:{request.url.port}/feed.xml",
            }
            if path == "/robots.txt":
                return PlainTextResponse(self.robots)
            if path in redirects:
                return RedirectResponse(redirects[path], status_code=302)
            if path == "/moved.xml":
                return RedirectResponse(f"{base}/feed.xml", status_code=301)
            if path == "/feed.xml":
                return Response(_rss(base, 3, teaser=False), media_type="application/rss+xml")
            if path == "/teasers.xml":
                return Response(_rss(base, 3, teaser=True), media_type="application/rss+xml")
            if path == "/feed-br.xml":
                body = brotli.compress(_rss(base + "/br", 2, teaser=False))
                headers = {"Content-Encoding": "br", "Content-Type": "application/rss+xml"}
                return Response(body, headers=headers)
            if path.startswith("/a/"):
                return Response(_article(int(path[3:].split(".")[0])), media_type="text/html")
            if path == "/busy":
                return PlainTextResponse("slow down", status_code=429, headers={"Retry-After": "7200"})
            if path == "/big":
                return Response(
                    b"<rss>" + b" " * (6 * 1024 * 1024) + b"</rss>", media_type="application/rss+xml"
                )
            if path == "/stall":
                await asyncio.sleep(STALL_S)
                return Response(_rss(base, 1, teaser=False), media_type="application/rss+xml")
            return PlainTextResponse("not found", status_code=404)

        return Starlette(routes=[Route("/{path:path}", handle)])


@pytest.fixture
def hostile() -> Iterator[HostileSite]:
    """The hostile site, served on 127.0.0.1 (allow-listed by the settings fixture)."""
    site = HostileSite()
    with serve_app(site.app()) as base:
        site.base = base
        yield site


def _add_sources(database: Database, urls: list[str]) -> dict[str, int]:
    with database.session() as session:
        unit = session.scalar(select(Unit).where(Unit.slug == "hostile"))
        if unit is None:
            unit = Unit(slug="hostile", name="测试单位", level="branch")
            session.add(unit)
            session.flush()
        sources = [Source(unit_id=unit.id, name=url, kind="feed", url=url) for url in urls]
        session.add_all(sources)
        session.flush()
        return {source.url: source.id for source in sources}


def _outcomes(database: Database, run_id: int) -> dict[int, CrawlOutcome]:
    with database.session() as session:
        rows = session.scalars(select(CrawlOutcome).where(CrawlOutcome.run_id == run_id)).all()
        session.expunge_all()
        return {row.source_id: row for row in rows}


def test_private_targets_refused_with_stats_and_size_cap(
    settings: Settings, database: Database, hostile: HostileSite
) -> None:
    port = hostile.base.rsplit(":", 1)[1]
    blocked = ["/to-metadata", "/to-localhost", "/to-127-2", "/to-decimal", "/to-mapped"]
    urls = [hostile.base + path for path in blocked] + [f"http://localhost:{port}/feed.xml"]
    ok_url, br_url, busy_url, big_url = (
        hostile.base + p for p in ("/feed.xml", "/feed-br.xml", "/busy", "/big")
    )
    ids = _add_sources(database, [*urls, ok_url, br_url, busy_url, big_url])
    summary = crawl(settings, source_ids=list(ids.values()), trigger="test")
    outcomes = _outcomes(database, summary.run_id)

    for url in urls:
        outcome = outcomes[ids[url]]
        assert (outcome.status, outcome.error_kind) == ("failed", "blocked_private"), (url, outcome.message)
        assert outcome.failure_counts == {"blocked_private": 1}
    hop = outcomes[ids[hostile.base + "/to-metadata"]].redirects
    assert hop == [
        {
            "status": 302,
            "url": hostile.base + "/to-metadata",
            "to": "http://169.254.169.254/latest/meta-data/",
        }
    ]
    # Nothing but the redirecting pages and robots.txt reached the server: no hop was followed.
    assert {path for path, _ in hostile.hits} <= {
        *blocked,
        "/robots.txt",
        "/feed.xml",
        "/feed-br.xml",
        "/busy",
        "/big",
    }

    ok = outcomes[ids[ok_url]]
    assert ok.status == "ok" and ok.items_new == 3
    assert ok.requests == 1 and ok.status_counts == {"200": 1} and ok.bytes_received > 1000
    assert outcomes[ids[br_url]].items_new == 2  # Content-Encoding: br decoded

    busy = outcomes[ids[busy_url]]
    assert (busy.status, busy.error_kind, busy.http_status) == ("failed", "rate_limited", 429)
    assert busy.failure_counts == {"rate_limited": 1} and busy.requests == 1  # not retried
    with database.session() as session:
        source = session.get(Source, ids[busy_url])
        assert source is not None and source.next_check_at is not None
        wait = source.next_check_at - busy.finished_at
        assert timedelta(seconds=7190) <= wait <= timedelta(seconds=7210)

    big = outcomes[ids[big_url]]
    assert (big.status, big.error_kind) == ("failed", "too_large"), big.message


def test_crawl_delay_is_honoured(settings: Settings, database: Database, hostile: HostileSite) -> None:
    hostile.robots = "User-agent: *\nCrawl-delay: 0.5\nAllow: /\n"
    ids = _add_sources(database, [hostile.base + "/teasers.xml"])
    summary = crawl(settings, source_ids=list(ids.values()), trigger="test")
    assert summary.sources_ok == 1 and summary.items_new == 3
    times = [at for path, at in hostile.hits if path != "/robots.txt"]
    assert len(times) == 4  # the feed, then three article pages for the full text
    gaps = [later - earlier for earlier, later in pairwise(times)]
    # Scrapy spaces requests from when it hands them to the download handler: anything holding the GIL
    # in the crawl process then delays the request's arrival and shortens the next gap at the site (the
    # text tables built inside the first ingest batch did: 0.39 s, until crawlers/process.py built them
    # at start).
    assert min(gaps) >= 0.45, gaps


def test_permanent_redirect_moves_the_source_after_n_crawls(
    database_url: str, tmp_path: Path, hostile: HostileSite
) -> None:
    settings = Settings(
        demo=True,
        store={"url": database_url},  # type: ignore[arg-type]
        search={"backend": "embedded", "embedded_path": str(tmp_path / "s.db")},  # type: ignore[arg-type]
        crawl={"allowed_private_hosts": ["127.0.0.1"], "permanent_redirect_after": 2},  # type: ignore[arg-type]
    )
    database = Database(database_url)
    try:
        ids = _add_sources(database, [hostile.base + "/moved.xml"])
        (source_id,) = ids.values()
        first = crawl(settings, source_ids=[source_id], trigger="test")
        with database.session() as session:
            source = session.get(Source, source_id)
            assert source is not None
            assert (source.url, source.moved_count) == (hostile.base + "/moved.xml", 1)
            assert source.moved_to_url == hostile.base + "/feed.xml"
        outcome = _outcomes(database, first.run_id)[source_id]
        assert outcome.redirects == [
            {"status": 301, "url": hostile.base + "/moved.xml", "to": hostile.base + "/feed.xml"}
        ]
        assert outcome.status_counts == {"301": 1, "200": 1} and outcome.requests == 2
        crawl(settings, source_ids=[source_id], trigger="test")
        with database.session() as session:
            source = session.get(Source, source_id)
            assert source is not None
            assert (source.url, source.moved_count, source.moved_to_url) == (
                hostile.base + "/feed.xml",
                0,
                None,
            )
    finally:
        database.dispose()


def test_a_stalled_site_does_not_delay_the_others(
    settings: Settings,
    database: Database,
    hostile: HostileSite,
    sample_registry_file: Path,
    sample_ground_truth: dict[str, Any],
) -> None:
    settings = settings.model_copy(
        update={"crawl": settings.crawl.model_copy(update={"download_timeout_s": 10.0})}
    )
    with database.session() as session:
        import_registry(session, sample_registry_file)
        healthy_urls = [url for url, truth in sample_ground_truth["sources"].items() if not truth["failure"]]
        healthy = session.scalars(select(Source.id).where(Source.url.in_(healthy_urls))).all()
    stalled = _add_sources(database, [hostile.base + "/stall"])[hostile.base + "/stall"]
    summary = crawl(settings, source_ids=[*healthy, stalled], trigger="test")
    outcomes = _outcomes(database, summary.run_id)
    assert outcomes[stalled].error_kind == "timeout"
    others = [outcomes[i] for i in healthy]
    assert len(others) >= 3 and all(o.status == "ok" for o in others)
    last_other = max(o.finished_at for o in others)
    # The others were all done long before the stalled site gave up (its timeout is 10 s).
    assert outcomes[stalled].finished_at - last_other > timedelta(seconds=5)
    assert utcnow() - outcomes[stalled].finished_at < timedelta(seconds=STALL_S)
