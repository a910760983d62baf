"""The opt-in Redis frontier (``crawl.frontier_url``, crawlers/frontier/, docs/deploy.md): the crawl
processes of a run share one Redis-backed Scrapy queue, and the per-source bookkeeping stays right
when one process fetches what another enqueued.

Against the Redis at XINLIAN_TEST_REDIS_URL (127.0.0.1:6379 by default; each test under its own key
prefix, deleted afterwards) and a loopback site that counts every request, how many are in flight at
once and which crawl process sent each one (the client port's owner). Redis missing skips these tests,
which fails the session where the suite is required (XINLIAN_TEST_REQUIRE=redis, the Makefile's test
targets).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
import redis
from sqlalchemy import func, select

from crawlers.frontier.keys import RunKeys, open_runs_key
from crawlers.frontier.runs import frontier_run
from crawlers.frontier.slots import leave, take_slot
from crawlers.pool import CrawlPool
from crawlers.runner import CrawlSummary, crawl
from hub.crawlrecord import start_run
from hub.db import Database
from hub.models import CrawlOutcome, Item, Source, Unit
from hub.settings import Settings
from hub.timeutil import utcnow
from tests.fixtures import env
from tests.minisite import QuietHandler, serving
from tests.workers import Process, wait_until, write_config

pytestmark = pytest.mark.redis

SOURCES = 6
ARTICLES = 8
HOLD_S = 0.1  # each answer is held this long, so that requests sent together overlap in the count
GATE_S = 60.0  # at most this long at a closed gate


@pytest.fixture
def frontier(test_env: env.TestEnvironment) -> Iterator[tuple[redis.Redis, str]]:
    """A Redis client and a key prefix of this test's own; every key under it is deleted afterwards."""
    client = redis.Redis.from_url(test_env.redis_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"no Redis at {test_env.redis_url}: {exc}")
    prefix = f"xinlian-test:{uuid.uuid4().hex[:12]}"
    try:
        yield client, prefix
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


class CountingSite:
    """List pages and articles of SOURCES sources on one host; counts requests per path, the most in
    flight at once, and the crawl process (pid) that sent each request."""

    def __init__(self) -> None:
        self.base_url = ""
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.paths: Counter[str] = Counter()
        self.by_pid: Counter[int] = Counter()
        self.pid_in_flight: Counter[int | None] = Counter()
        self.pid_most: Counter[int | None] = Counter()
        self.pids: list[int] = []  # the crawl processes to look client ports up in
        self.parents: list[int] = []  # and the crawl processes these start (a joiner's, another machine)
        self.gate: threading.Event | None = None  # when given, every page waits for it
        self.on_request: list[int] = []  # kill the sender of these request numbers (1-based)

    def sender(self, port: int) -> int | None:
        children = []
        for parent in self.parents:
            with contextlib.suppress(psutil.Error):
                children += [child.pid for child in psutil.Process(parent).children(recursive=True)]
        for pid in [*self.pids, *children]:
            with contextlib.suppress(psutil.Error):
                for conn in psutil.Process(pid).net_connections(kind="tcp"):
                    if conn.laddr and conn.laddr.port == port:
                        return pid
        return None


def _page(path: str) -> bytes | None:
    if path.startswith("/list/"):
        source = path.removeprefix("/list/").removesuffix(".html")
        links = "".join(
            f"<li><a href='/a/{source}-{n}.html'>第{source}栏关于第{n}项工作的通知</a>"
            f"<span>2024-05-{n + 1:02d}</span></li>"
            for n in range(ARTICLES)
        )
        return f"<html><body><ul class='news'>{links}</ul></body></html>".encode()
    if path.startswith("/a/"):
        name = path.removeprefix("/a/").removesuffix(".html")
        return (
            f"<html><head><title>通知{name}</title></head><body><h1>第{name}号通知</h1>"
            "<div class='info'>发布时间：2024-05-01 09:00</div><div class='text'><p>各社区：现将第"
            f"{name}项工作的安排通知如下，请按时完成并报送材料，逾期不再受理。</p></div></body></html>"
        ).encode()
    return None


@contextmanager
def counting_site() -> Iterator[CountingSite]:
    site = CountingSite()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            body = _page(path)
            if body is None:  # robots.txt too: fetched by each process, not through the queue
                self.send_error(404)
                return
            pid = site.sender(self.client_address[1])
            with site.lock:
                site.in_flight += 1
                site.most = max(site.most, site.in_flight)
                site.paths[path] += 1
                number = sum(site.paths.values())
                if pid is not None:
                    site.by_pid[pid] += 1
                site.pid_in_flight[pid] += 1
                site.pid_most[pid] = max(site.pid_most[pid], site.pid_in_flight[pid])
            if pid is not None and number in site.on_request:
                os.kill(pid, signal.SIGKILL)  # it dies holding this request (and whatever else it popped)
            try:
                if site.gate is not None:
                    site.gate.wait(GATE_S)
                time.sleep(HOLD_S)
            finally:
                with site.lock:
                    site.in_flight -= 1
                    site.pid_in_flight[pid] -= 1
            with contextlib.suppress(OSError):
                self.send_body(body, {"Content-Type": "text/html; charset=utf-8"})

    with serving(Handler) as base_url:
        site.base_url = base_url
        yield site


def _configure(settings: Settings, prefix: str, url: str, processes: int, cap: int) -> None:
    settings.crawl.frontier_url = url
    settings.crawl.frontier_key_prefix = prefix
    settings.crawl.processes = processes
    settings.crawl.min_sources_per_process = 1  # a small run still uses every process
    settings.crawl.concurrent_per_host = cap


def _add_sources(database: Database, base_url: str) -> None:
    with database.session() as session:
        unit = Unit(slug="jd", name="某某街道", level="street", path="/")
        session.add(unit)
        session.flush()
        for n in range(SOURCES):
            url = f"{base_url}/list/{n}.html"
            session.add(Source(unit_id=unit.id, name=f"栏目{n}", kind="html", url=url))


def _outcomes(database: Database, run_id: int) -> list[CrawlOutcome]:
    with database.session() as session:
        rows = session.scalars(select(CrawlOutcome).where(CrawlOutcome.run_id == run_id)).all()
        session.expunge_all()
        return list(rows)


def _stored(database: Database) -> tuple[int, int]:
    """Items stored, and distinct URLs among them."""
    with database.session() as session:
        return (
            int(session.scalar(select(func.count(Item.id))) or 0),
            int(session.scalar(select(func.count(func.distinct(Item.url)))) or 0),
        )


def _expected_paths() -> set[str]:
    lists = {f"/list/{s}.html" for s in range(SOURCES)}
    return lists | {f"/a/{s}-{n}.html" for s in range(SOURCES) for n in range(ARTICLES)}


def _assert_every_page_once(site: CountingSite) -> None:
    """Every page of the site requested exactly once, each request's sending process identified."""
    assert set(site.paths) == _expected_paths()
    assert max(site.paths.values()) == 1, [path for path, n in site.paths.items() if n > 1]
    assert sum(site.by_pid.values()) == len(_expected_paths()), "every request's sender was found"


def _assert_stored_once_with_whole_outcomes(database: Database, summary: CrawlSummary) -> list[CrawlOutcome]:
    """Every item stored once and every source one ok outcome with its whole counts and fetch statistics
    (joined from every process that worked on it); returns the outcomes."""
    assert summary.exit_code == 0
    assert _stored(database) == (SOURCES * ARTICLES, SOURCES * ARTICLES)
    assert summary.items_new == SOURCES * ARTICLES and summary.sources_ok == SOURCES
    outcomes = _outcomes(database, summary.run_id)
    assert sorted(outcome.source_id for outcome in outcomes) == list(range(1, SOURCES + 1))
    for outcome in outcomes:
        assert (outcome.status, outcome.error_kind) == ("ok", None)
        assert (outcome.items_seen, outcome.items_new) == (ARTICLES, ARTICLES)
        assert outcome.requests == ARTICLES + 1 and outcome.status_counts == {"200": ARTICLES + 1}
    return outcomes


def test_three_processes_share_one_crawl_through_the_frontier(
    settings: Settings, database: Database, frontier: tuple[redis.Redis, str], test_env: env.TestEnvironment
) -> None:
    client, prefix = frontier
    cap = 3
    _configure(settings, prefix, test_env.redis_url, processes=3, cap=cap)
    with counting_site() as site, CrawlPool(settings, 3) as pool:
        site.pids = pool.pids()
        _add_sources(database, site.base_url)
        summary = crawl(settings, trigger="test", pool=pool)

    # Every page once across the three processes, and more than one process fetched.
    _assert_every_page_once(site)
    assert len(site.by_pid) >= 2, f"one process did all the work: {dict(site.by_pid)}"
    # The host's budget is shared: 1/3 of it in each process.
    assert site.most <= cap, f"{site.most} requests at once, cap {cap}; per process {dict(site.pid_most)}"

    # Every item stored once; every source one outcome with its whole counts, whoever wrote it.
    for outcome in _assert_stored_once_with_whole_outcomes(database, summary):
        assert outcome.http_status == 200 and outcome.duration_ms > 0

    # The run's keys are gone.
    assert list(client.scan_iter(match=f"{prefix}:*")) == []


def test_a_process_killed_mid_run_loses_its_requests_and_the_next_run_recovers(
    settings: Settings, database: Database, frontier: tuple[redis.Redis, str], test_env: env.TestEnvironment
) -> None:
    client, prefix = frontier
    _configure(settings, prefix, test_env.redis_url, processes=2, cap=2)
    settings.crawl.frontier_stall_s = 2.0  # the survivor leaves the run 2 s after the last progress
    with counting_site() as site, CrawlPool(settings, 2) as pool:
        site.pids = pool.pids()
        site.on_request = [12]  # SIGKILL the sender of the 12th request while it waits for the answer
        _add_sources(database, site.base_url)
        began = time.monotonic()
        first = crawl(settings, trigger="test", pool=pool)
        took = time.monotonic() - began
        killed = [pid for pid in site.pids if pid not in pool.pids()]

        # The run ended without waiting for the dead: the survivor left once nothing moved for 2 s.
        assert len(killed) == 1 and first.exit_code == 1
        assert took < 30, f"the run took {took:.1f} s"
        outcomes = _outcomes(database, first.run_id)
        assert sorted(outcome.source_id for outcome in outcomes) == list(range(1, SOURCES + 1))
        lost = {o.source_id for o in outcomes if o.status == "failed"}
        # The killed process's popped requests are gone with it: their sources end as aborted (due again
        # at once), never as ok with items missing.
        assert lost, "the killed process held a request: its source cannot have finished"
        for outcome in outcomes:
            if outcome.source_id in lost:
                assert outcome.error_kind == "aborted"
            else:
                assert (outcome.status, outcome.items_new) == ("ok", ARTICLES)
        assert list(client.scan_iter(match=f"{prefix}:*")) == []
        stored_after_kill, _ = _stored(database)
        assert stored_after_kill < SOURCES * ARTICLES

        # The next run (the replacement process and the survivor) crawls every source again: all of them
        # ok, and the store ends with every item exactly once.
        site.pids = pool.pids()
        site.on_request = []
        second = crawl(settings, trigger="test", pool=pool)
    assert second.exit_code == 0 and second.sources_ok == SOURCES
    assert _stored(database) == (SOURCES * ARTICLES, SOURCES * ARTICLES)
    # What the survivor stored of a source cut short is kept; it is not counted again as new.
    assert first.items_new <= stored_after_kill and stored_after_kill + second.items_new == SOURCES * ARTICLES
    assert list(client.scan_iter(match=f"{prefix}:*")) == []


def test_keys_of_a_run_whose_runner_died_are_deleted_by_the_next_crawl(
    settings: Settings, database: Database, frontier: tuple[redis.Redis, str], test_env: env.TestEnvironment
) -> None:
    """A worker killed mid-run leaves its run's keys behind (nothing of it is left to delete them); the
    crawl that closes the run as abandoned deletes them, and only them."""
    client, prefix = frontier
    _configure(settings, prefix, test_env.redis_url, processes=1, cap=1)
    with database.session() as session:
        dead = start_run(session, "test", [], owner="gone:1", now=utcnow() - timedelta(hours=1)).id
        alive = start_run(session, "test", [], owner="busy:2").id
    for run_id in (dead, alive):
        keys = RunKeys(prefix, run_id)
        client.hset(keys.run, mapping={"open": 1, "processes": 2, "progress": 5})
        client.rpush(keys.queue, b"a pickled request")
        client.sadd(keys.seen(7), "http://example.invalid/a.html")
    crawl(settings, source_ids=[], trigger="test")  # no sources: only the sweep runs
    assert list(client.scan_iter(match=f"{prefix}:{dead}:*")) == []
    assert len(list(client.scan_iter(match=f"{prefix}:{alive}:*"))) == 3


@contextmanager
def silent_redis() -> Iterator[str]:
    """The URL of a server that accepts connections and never answers (a frozen Redis, a cut network)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@pytest.mark.parametrize("down", ["refused", "silent"])
def test_an_unreachable_redis_fails_the_run_with_every_source_aborted(
    settings: Settings, database: Database, down: str
) -> None:
    """Redis down when a run starts (refusing connections, or accepting them and never answering): the
    runner cannot open the run, the crawl raises (the worker's tick logs it) and every source is recorded
    as aborted, due again at once; nothing waits on the dead Redis longer than crawl.frontier_timeout_s."""
    with contextlib.ExitStack() as stack:
        url = "redis://127.0.0.1:1/0" if down == "refused" else stack.enter_context(silent_redis())
        _configure(settings, "xinlian-test:down", url, processes=1, cap=1)
        settings.crawl.frontier_timeout_s = 0.5
        site = stack.enter_context(counting_site())
        _add_sources(database, site.base_url)
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError if down == "refused" else redis.TimeoutError):
            crawl(settings, trigger="test")
        # A few tries of 0.5 s (redis-py retries a timed-out call): about 2 s. Without our timeout, redis-py
        # 8 gives up after two reads of 5 s each (11-12 s here), older redis-py never.
        assert time.monotonic() - started < 8
    assert sum(site.paths.values()) == 0
    outcomes = _outcomes(database, 1)
    assert len(outcomes) == SOURCES
    assert {(outcome.status, outcome.error_kind) for outcome in outcomes} == {("failed", "aborted")}


def _joiner(
    settings: Settings,
    tmp_path: Path,
    name: str = "joiner",
    own: dict[str, object] | None = None,
    once: bool = True,
) -> Process:
    """``xinlian crawl join --once`` (or, ``once`` False, left running) with one crawl process, on the
    settings of ``settings`` (same store, Redis, prefix and crawl limits) but for the crawl settings in
    ``own``, as another machine would run it: a separate OS process."""
    crawl_keys = (
        "allowed_private_hosts",
        "download_timeout_s",
        "retry_times",
        "frontier_url",
        "frontier_key_prefix",
        "frontier_stall_s",
        "concurrent_per_host",
        "frontier_remote_processes",
    )
    config = write_config(
        tmp_path / f"{name}.toml",
        {
            "store": {"url": settings.store.url},
            "search": {"backend": "embedded", "embedded_path": str(tmp_path / f"{name}-index")},
            "crawl": {**{key: getattr(settings.crawl, key) for key in crawl_keys}, **(own or {})},
        },
    )
    args = ["--config", str(config), "crawl", "join", *(["--once"] if once else []), "--processes", "1"]
    return Process(name, args, tmp_path / f"{name}.log")


def test_a_joiner_on_another_machine_shares_the_run(
    settings: Settings,
    database: Database,
    frontier: tuple[redis.Redis, str],
    test_env: env.TestEnvironment,
    tmp_path: Path,
) -> None:
    """One local crawl process and one remote slot; ``xinlian crawl join --once`` in a process of its own
    takes the slot and fetches its share, and the run comes out as if both processes were local. The
    joiner's own settings allow a host 8 requests at once: it divides the runner's 2 all the same."""
    client, prefix = frontier
    cap = 2
    _configure(settings, prefix, test_env.redis_url, processes=1, cap=cap)
    settings.crawl.frontier_remote_processes = 1
    settings.crawl.download_timeout_s = GATE_S  # pages wait at the gate until the joiner holds one too
    results: list[CrawlSummary] = []
    with counting_site() as site, CrawlPool(settings, 1) as pool:
        site.pids = local = pool.pids()
        site.gate = threading.Event()
        _add_sources(database, site.base_url)

        def run() -> None:
            results.append(crawl(settings, trigger="test", pool=pool))

        runner = threading.Thread(target=run)
        runner.start()
        joiner = _joiner(settings, tmp_path, own={"concurrent_per_host": 8})
        try:
            wait_until(lambda: client.scard(open_runs_key(prefix)) == 1, 30, "the run to be listed")
            joiner.start()
            site.parents = [joiner.pid]
            # Both machines hold a list page at the gate: the joiner surely gets a share of the work.
            wait_until(lambda: len(site.by_pid) == 2, 90, "both machines to fetch", watch=(joiner,))
            site.gate.set()
            runner.join(120)
            assert joiner.popen is not None
            assert joiner.popen.wait(60) == 0, joiner.output()[-3000:]
        finally:
            site.gate.set()
            runner.join()
            joiner.stop()
    assert results, "the crawl raised (see the log above)"
    summary = results[0]
    joined = {pid for pid in site.by_pid if pid not in local}
    assert "joined 1 time(s)" in joiner.output(), joiner.output()[-3000:]

    # Every page once across the two machines, each fetched a share, and the host's cap held across both
    # (each process had 1/2 of the runner's: the remote slot counts whether or not a joiner comes, and the
    # joiner's own cap of 8 would have let it hold 4 pages at the gate).
    _assert_every_page_once(site)
    assert len(joined) == 1 and sum(site.by_pid[pid] for pid in local) > 0, dict(site.by_pid)
    assert site.most <= cap, f"{site.most} requests at once, cap {cap}; per process {dict(site.pid_most)}"

    # Items and outcomes written through the one store, whichever machine ended a source.
    _assert_stored_once_with_whole_outcomes(database, summary)

    # The run's keys and its entry in the open-runs set are gone.
    assert list(client.scan_iter(match=f"{prefix}:*")) == []


def test_a_joiner_finding_no_free_slot_does_not_join(
    settings: Settings,
    database: Database,
    frontier: tuple[redis.Redis, str],
    test_env: env.TestEnvironment,
    tmp_path: Path,
) -> None:
    """A run whose one remote slot is taken, and a run with none: ``crawl join --once`` joins neither; the
    runner's end waits for the process that took the slot to leave, then deletes everything."""
    client, prefix = frontier
    _configure(settings, prefix, test_env.redis_url, processes=1, cap=2)
    full, closed = RunKeys(prefix, 7), RunKeys(prefix, 8)
    url = test_env.redis_url
    timeout_s = settings.crawl.frontier_timeout_s
    with frontier_run(url, timeout_s, full, sources=1, processes=2, remote=1, joiners_wait_s=10):
        with frontier_run(url, timeout_s, closed, sources=1, processes=1):
            assert take_slot(client, full)  # another machine's process took it
            assert not take_slot(client, full) and not take_slot(client, closed)
            assert client.smembers(open_runs_key(prefix)) == {b"7"}
            joiner = _joiner(settings, tmp_path).start()
            try:
                assert joiner.popen is not None
                assert joiner.popen.wait(120) == 0, joiner.output()[-3000:]
            finally:
                joiner.stop()
            assert "joined no run" in joiner.output()
            assert client.hmget(full.run, ["joined", "left"]) == [b"1", None]
            assert client.hget(closed.run, "joined") == b"0"
        leave(client, full)  # the slot's process is done: the runner need not wait for it
    assert list(client.scan_iter(match=f"{prefix}:*")) == []


def test_a_joiner_left_running_joins_run_after_run_until_stopped(
    settings: Settings,
    database: Database,
    frontier: tuple[redis.Redis, str],
    test_env: env.TestEnvironment,
    tmp_path: Path,
) -> None:
    """``xinlian crawl join`` without ``--once``, as a service on another machine: it joins each run as it
    opens (its process back in the pool between them), and SIGTERM ends it cleanly, exit status 0."""
    client, prefix = frontier
    _configure(settings, prefix, test_env.redis_url, processes=1, cap=2)
    settings.crawl.frontier_remote_processes = 1
    settings.crawl.download_timeout_s = GATE_S
    runs: list[CrawlSummary] = []
    joined_pids: list[set[int]] = []
    with counting_site() as site, CrawlPool(settings, 1) as pool:
        site.pids = local = pool.pids()
        _add_sources(database, site.base_url)
        with database.session() as session:
            source_ids = list(session.scalars(select(Source.id).order_by(Source.id)))
        joiner = _joiner(settings, tmp_path, once=False).start()
        try:
            site.parents = [joiner.pid]
            for _ in range(2):  # the second run re-reads the list pages (unchanged: no articles)
                site.gate = threading.Event()
                site.by_pid.clear()
                runner = threading.Thread(
                    target=lambda: runs.append(crawl(settings, source_ids, trigger="test", pool=pool))
                )
                runner.start()
                try:
                    wait_until(lambda: len(site.by_pid) == 2, 90, "both machines to fetch", watch=(joiner,))
                finally:
                    site.gate.set()
                    runner.join(120)
                joined_pids.append({pid for pid in site.by_pid if pid not in local})
            assert joiner.alive(), joiner.output()[-3000:]  # still waiting for the next run
            os.kill(joiner.pid, signal.SIGTERM)
            assert joiner.popen is not None
            assert joiner.popen.wait(60) == 0, joiner.output()[-3000:]
        finally:
            site.gate = None
            joiner.stop()
    assert [summary.exit_code for summary in runs] == [0, 0]
    assert [summary.sources_ok for summary in runs] == [SOURCES, SOURCES]
    assert all(len(pids) == 1 for pids in joined_pids), joined_pids  # the joiner fetched in each run
    assert f"joined 2 time(s): runs [{runs[0].run_id}, {runs[1].run_id}]" in joiner.output()
    assert _stored(database) == (SOURCES * ARTICLES, SOURCES * ARTICLES)
    assert list(client.scan_iter(match=f"{prefix}:*")) == []
