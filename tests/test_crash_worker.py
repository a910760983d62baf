"""Killed worker (issue 8): ``xinlian worker`` killed with SIGKILL at 20 random moments of a large ingest
and started again each time; at the end the store holds exactly the sample network's items and
revisions, none lost and none duplicated, and the index holds exactly the store's items.

The kill reaches the worker's whole process group, its crawl processes included (what a container
runtime or systemd does to a killed service): a crawl process dies mid-batch, its transaction rolls
back, its sources keep their lease and are crawled again when it runs out (``worker.lease_s``,
seconds here), and its open run is closed as "abandoned" by a later crawl. Half of the kills fall
in the first ingest, half in a second pass after items were edited and published. Runs on PostgreSQL
(``make test-postgres``).
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from crawlers.ledger import CrawlLedger, SourceJob
from hub.crawlrecord import ABANDONED, start_run
from hub.db import Database
from hub.models import CrawlRun, Item, Source, Unit
from hub.rawitem import RawItem
from hub.registry import import_registry
from hub.schedule.crawlnow import crawl_now
from hub.settings import Settings
from hub.timeutil import utcnow
from index.factory import open_backend
from samplenet.export import ground_truth, write_registry
from samplenet.generate import publish_item, touch_item
from samplenet.model import SampleNetwork
from samplenet.server import RunningNetwork, running_network
from tests.fixtures.sample import make_sample_network
from tests.workers import (
    Process,
    base_sections,
    crawl_settled,
    expected_urls,
    indexed_states,
    store_problems,
    wait_until,
    worker_process,
    write_config,
)

KILLS = 20
SEED = 20240601
LEASE_S = 3  # a killed worker's sources are due again this soon
KILL_WITHIN_RUN_S = 0.6  # a kill lands this long at most after a crawl run opened
RUN_RETRIES = 3  # runs over before the kill: aim at the next one this often at most
RUN_OPEN_TIMEOUT_S = 120.0
SETTLE_TIMEOUT_S = 240.0
EDIT_MARK = "本文已于近日更新"  # the paragraph samplenet.generate.touch_item adds


def _started(worker: Process) -> bool:
    return "worker started" in worker.output().rsplit(f"===== start {worker.starts} =====", 1)[-1]


def _run_open_since(database: Database, since: datetime) -> bool:
    with database.session() as session:
        opened = session.scalar(
            select(func.count())
            .select_from(CrawlRun)
            .where(CrawlRun.finished_at.is_(None), CrawlRun.started_at >= since)
        )
    return bool(opened)


def _aim_at_an_open_run(database: Database, started_at: datetime, rng: random.Random) -> None:
    """Return while a crawl run is open, if one opens soon: a fast machine finishes a small run (4 sources)
    within the kill window, and a kill between two runs would interrupt nothing."""
    for _ in range(RUN_RETRIES):
        if _run_open_since(database, started_at):
            return
        deadline = time.monotonic() + 5.0
        retry_at = utcnow()
        while not _run_open_since(database, retry_at) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, KILL_WITHIN_RUN_S / 4))


def _runs_left(database: Database) -> int:
    """Runs a killed worker left: still open, or closed by the sweep as abandoned."""
    with database.session() as session:
        left = session.scalar(
            select(func.count())
            .select_from(CrawlRun)
            .where(or_(CrawlRun.finished_at.is_(None), CrawlRun.status == ABANDONED))
        )
    return int(left or 0)


def _settled(database: Database) -> bool:
    with database.session() as session:
        return crawl_settled(session)


def _edit_network(running: RunningNetwork, network: SampleNetwork, rng: random.Random) -> set[str]:
    """Edit one item on each of a few sites and publish a new one there (so list pages change too);
    returns the edited items' URLs."""
    healthy = [site for site in network.sites if site.fault is None and site.template != "account"]
    edited: set[str] = set()
    for site in rng.sample(healthy, 6):
        item = site.items[rng.randrange(3)]  # among the newest: within every feed and list depth
        touch_item(network, site.slug, item.item_id, utcnow())
        publish_item(network, site.slug)
        edited.add(f"{running.base_url}{site.root_path}{item.article_path}")
    for site in rng.sample(healthy, 4):
        publish_item(network, site.slug)
    return edited


@pytest.mark.timeout(900)  # real processes on a shared machine: longer than the suite's 300 s
@pytest.mark.postgres
def test_worker_killed_twenty_times_loses_and_duplicates_nothing(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("runs on PostgreSQL (make test-postgres)")
    rng = random.Random(SEED)
    network = make_sample_network(districts=4, branches=8, faults=False)
    database = Database(database_url)
    index_path = tmp_path / "search-index"
    config = write_config(
        tmp_path / "xinlian.toml",
        base_sections(database_url, index_path, batch=4, per_host_cap=4, lease_s=LEASE_S),
    )
    worker = worker_process(config, tmp_path / "worker.log")
    revised: set[str] = set()
    edited: set[str] = set()
    killed_mid_run = left_runs = 0
    try:
        with running_network(network) as running:
            registry = write_registry(tmp_path / "registry.yaml", network, running.base_url)
            with database.session() as session:
                import_registry(session, registry)
            for kill in range(KILLS):
                if kill == KILLS // 2:
                    # Second pass: edits and new items.
                    edited = _edit_network(running, network, rng)
                    with database.session() as session:
                        # An edited item stored before the edit gets a second revision; one the first
                        # pass had not reached yet is stored once, edited.
                        revised = set(session.scalars(select(Item.url).where(Item.url.in_(edited))))
                if kill:
                    # Every source due again, so each start has crawling to interrupt: on a quiet
                    # machine the first ingest is over within a few starts.
                    with database.session() as session:
                        crawl_now(session, list(session.scalars(select(Source.id))), "test", utcnow())
                started_at = utcnow()
                worker.start()
                wait_until(lambda: _started(worker), 120, "the worker to start", (worker,))
                # The moment: at random within a crawl run, the riskiest place to die.
                wait_until(
                    partial(_run_open_since, database, started_at),
                    RUN_OPEN_TIMEOUT_S,
                    "a crawl run to open",
                    (worker,),
                )
                time.sleep(rng.uniform(0.0, KILL_WITHIN_RUN_S))
                _aim_at_an_open_run(database, started_at, rng)
                worker.kill_group()
                # A run the kill interrupted stays open until a later crawl's sweep closes it as
                # "abandoned" (its heartbeat stopped): count the kills that left one more such run.
                now_left = _runs_left(database)
                killed_mid_run += now_left > left_runs
                left_runs = now_left
            # The last start runs undisturbed until nothing is due and the outbox is empty.
            worker.start()
            wait_until(lambda: _settled(database), SETTLE_TIMEOUT_S, "the ingest to finish", (worker,))
            worker.stop()
            truth = ground_truth(network, running.base_url)
        settings = Settings(
            demo=True,
            store={"url": database_url},
            search={"backend": "embedded", "embedded_path": str(index_path)},
        )
        expected = expected_urls(truth, settings.crawl.list_page_depth)
        with database.session() as session:
            assert store_problems(session, expected, revised) == []
            assert session.scalar(select(func.count(Item.id))) == sum(len(urls) for urls in expected.values())
            texts = dict(session.execute(select(Item.url, Item.text).where(Item.url.in_(edited))).all())
            assert len(texts) == len(edited) and all(EDIT_MARK in text for text in texts.values())
            states = dict(session.execute(select(Item.id, Item.state)).all())
            # Nothing is left leased: every claimed source ended with an outcome.
            assert session.scalar(select(func.count()).where(Source.leased_until > utcnow())) == 0
        assert killed_mid_run >= KILLS // 2, "most kills should land while a crawl run was open"
        with database.session() as session:
            abandoned = session.scalar(select(func.count()).where(CrawlRun.status == ABANDONED))
        # The later starts' crawls closed the runs the kills left (the last one's may still be open).
        assert 0 < int(abandoned or 0) <= killed_mid_run
        backend = open_backend(settings)
        try:
            assert indexed_states(backend) == states
        finally:
            backend.close()
    finally:
        worker.stop()
        database.dispose()


def test_bookkeeping_is_written_only_after_the_items_found_before_it(database: Database) -> None:
    """A sitemap page's lastmod (a write the spider submits) is committed after its item, never before:
    a crash between the two would otherwise mark the page fetched with its item never stored."""
    with database.session() as session:
        unit = Unit(slug="city", name="某市", level="city", path="/")
        session.add(unit)
        session.flush()
        source = Source(
            unit_id=unit.id, name="站点地图", kind="sitemap", url="http://127.0.0.1:9/sitemap.xml"
        )
        session.add(source)
        session.flush()
        source_id, run_id = source.id, start_run(session, "test", [source.id]).id
    job = SourceJob(id=source_id, name="站点地图", kind="sitemap", url="http://127.0.0.1:9/sitemap.xml")
    ledger = CrawlLedger(database, run_id, [job])
    item = RawItem(source_id=source_id, url="http://127.0.0.1:9/a.html", title="通知", html="<p>正文内容</p>")
    stored_when_remembered: list[int] = []

    def remember(session: Session) -> None:
        stored_when_remembered.append(session.scalar(select(func.count(Item.id))) or 0)

    async def crawl() -> None:
        ledger.item_found(source_id)  # the article page's callback found the item ...
        ingest = asyncio.ensure_future(ledger.ingest(item))  # ... the pipeline takes it a little later
        ledger.submit(remember)  # ... after the callback submitted the page's lastmod
        await ingest
        ledger.end(source_id)
        await ledger.close([source_id])

    try:
        asyncio.run(crawl())
    finally:
        ledger.shutdown()
    assert stored_when_remembered == [1]
