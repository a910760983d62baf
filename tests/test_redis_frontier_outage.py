"""The frontier's Redis going away mid-run (crawl.frontier_url, docs/deploy.md).

A private redis-server of this test (the shared one at 6379 serves other tests) is killed once some pages
of the run's HTML list sources were fetched: the run still ends, without waiting on the dead Redis; the
HTML sources without an outcome are recorded aborted with a message naming Redis, a feed crawled in the
same run is stored as usual, and the next crawl, with Redis back, stores every notice exactly once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from crawlers.pool import CrawlPool
from crawlers.runner import CrawlSummary, crawl
from hub.db import Database
from hub.models import Source, Unit
from hub.settings import Settings
from tests.minisite import QuietHandler, serving
from tests.test_fastfeed import rss
from tests.test_redis_frontier import (
    ARTICLES,
    GATE_S,
    SOURCES,
    _add_sources,
    _configure,
    _outcomes,
    _stored,
    counting_site,
)
from tests.workers import free_port, wait_until

pytestmark = pytest.mark.redis

FEED_ITEMS = 3
FREE_PAGES = 10  # pages answered before Redis goes away; the next ones wait at the gate
RUN_S = 120.0  # the run ends within seconds of Redis going away (crawl.frontier_stall_s is 2 s)


class PrivateRedis:
    """A redis-server of this test alone on a free port, killed and started again on the same port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.root / "redis.log").open("ab")
        self.popen = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        client = redis.Redis.from_url(self.url)
        try:
            wait_until(lambda: self._answers(client), 30, "the private Redis to answer")
        finally:
            client.close()

    def _answers(self, client: redis.Redis) -> bool:
        assert self.popen is not None and self.popen.poll() is None, (self.root / "redis.log").read_text()
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    def kill(self) -> None:
        """Gone at once, as a crashed server or a cut network: no shutdown, nothing saved."""
        if self.popen is not None:
            self.popen.kill()
            self.popen.wait(30)
            self.popen = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary to start a private Redis")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


class GateAfter(threading.Event):
    """CountingSite's gate: the first ``free`` requests pass, the later ones wait until it is set."""

    def __init__(self, free: int) -> None:
        super().__init__()
        self.free = free
        self.lock = threading.Lock()

    def wait(self, timeout: float | None = None) -> bool:
        with self.lock:
            self.free -= 1
            if self.free >= 0:
                return True
        return super().wait(timeout)


@contextmanager
def _feed_site(gate: threading.Event) -> Iterator[str]:
    """A feed of FEED_ITEMS whole notices, answered once ``gate`` is set; yields its URL."""
    holder: list[str] = []

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            if self.path != "/feed.xml":
                self.send_error(404)
                return
            gate.wait(GATE_S)
            body = rss(holder[0], FEED_ITEMS)
            self.send_body(body, {"Content-Type": "application/rss+xml"})

    with serving(Handler) as base_url:
        holder.append(base_url)
        yield f"{base_url}/feed.xml"


def _add_feed(database: Database, url: str) -> int:
    with database.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
        source = Source(unit_id=unit_id, name="订阅", kind="feed", url=url)
        session.add(source)
        session.flush()
        return source.id


def test_redis_going_away_mid_run_aborts_the_frontier_sources_and_the_next_run_recovers(
    settings: Settings, database: Database, private_redis: PrivateRedis
) -> None:
    prefix = f"xinlian-test:{uuid.uuid4().hex[:12]}"
    _configure(settings, prefix, private_redis.url, processes=2, cap=2)
    settings.crawl.frontier_stall_s = 2.0
    settings.crawl.download_timeout_s = GATE_S  # pages wait at the gate, not time out
    feed_gate = threading.Event()
    results: list[CrawlSummary] = []
    with counting_site() as site, _feed_site(feed_gate) as feed_url, CrawlPool(settings, 2) as pool:
        site.pids = pool.pids()
        site.gate = GateAfter(FREE_PAGES)
        _add_sources(database, site.base_url)
        feed_id = _add_feed(database, feed_url)
        runner = threading.Thread(target=lambda: results.append(crawl(settings, trigger="test", pool=pool)))
        runner.start()
        try:
            # Some pages answered (and their notices stored), the next ones held: Redis goes away.
            wait_until(lambda: sum(site.paths.values()) > FREE_PAGES, 120, "the pages before the gate")
            wait_until(lambda: _stored(database)[0] > 0, 120, "a notice of the frontier sources stored")
            private_redis.kill()
        finally:
            site.gate.set()
            feed_gate.set()
            runner.join(RUN_S)
        if runner.is_alive():  # kill its processes, or the pool's exit would wait for the run for ever
            for pid in pool.pids():
                os.kill(pid, signal.SIGKILL)
            runner.join(RUN_S)
            pytest.fail(f"the run still waited on the dead Redis after {RUN_S} s")
        assert results, "the crawl raised (see the log above)"
        first = results[0]

        outcomes = _outcomes(database, first.run_id)
        assert sorted(outcome.source_id for outcome in outcomes) == list(range(1, SOURCES + 2))
        html = [outcome for outcome in outcomes if outcome.source_id != feed_id]
        aborted = [outcome for outcome in html if outcome.status == "failed"]
        assert aborted, "every frontier source finished before Redis went away"
        for outcome in aborted:
            assert outcome.error_kind == "aborted" and "Redis" in (outcome.message or ""), outcome.message
        for outcome in html:
            if outcome not in aborted:
                assert (outcome.status, outcome.items_new) == ("ok", ARTICLES)
        (feed,) = [outcome for outcome in outcomes if outcome.source_id == feed_id]
        assert (feed.status, feed.items_new) == ("ok", FEED_ITEMS)  # the feed did not need Redis
        stored_after, _ = _stored(database)
        assert stored_after < SOURCES * ARTICLES + FEED_ITEMS

        # Redis is back (empty, as a restarted server without persistence): the next run stores the rest.
        private_redis.start()
        site.pids = pool.pids()
        second = crawl(settings, trigger="test", pool=pool)
    assert second.exit_code == 0 and second.sources_ok == SOURCES + 1, second.outcomes
    total = SOURCES * ARTICLES + FEED_ITEMS
    assert _stored(database) == (total, total)  # every notice once
    # What was stored of a source cut short is kept, and not counted again as new.
    assert stored_after + second.items_new == total
    client = redis.Redis.from_url(private_redis.url)
    try:
        assert list(client.scan_iter(match=f"{prefix}:*")) == []
    finally:
        client.close()
