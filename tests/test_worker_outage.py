"""The worker starts, crawls and ingests while Elasticsearch is down; the backlog drains when it returns.

Issue 5: "With Elasticsearch down, ingestion and moderation go on and the backlog drains when it
returns." The worker's jobs are run as ``xinlian worker`` wires them (cli/worker_cmd.py
``worker_jobs``), on a backend built by the settings' factory against a loopback port where an osmem
server is started only after the crawl.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from osmem_server import OsmemServer
from sqlalchemy import func, select

from cli.worker_cmd import worker_jobs
from hub.db import Database
from hub.models import Item, OutboxEntry, Source
from hub.registry import import_registry
from hub.settings import Settings
from index.factory import open_backend
from index.outbox import BACKOFF_BASE_S, index_status
from index.readiness import LazyReady
from samplenet.server import RunningNetwork
from tests.fixtures.search import PlainJsonNode, closed_port

START = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
FEEDS = 8  # healthy sources crawled: enough items for a real backlog, quick enough for a test


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _es_settings(settings: Settings, url: str) -> Settings:
    # No pauses between the client's retries: the test does not sleep.
    search = settings.search.model_copy(
        update={"backend": url, "es_timeout_s": 5.0, "es_retry_backoff_s": 0.0}
    )
    return settings.model_copy(update={"search": search})


@pytest.mark.elasticsearch
def test_worker_started_with_elasticsearch_down_ingests_then_drains_the_backlog(
    settings: Settings,
    database: Database,
    sample_registry_file: Path,
    sample_server: RunningNetwork,
    caplog: pytest.LogCaptureFixture,
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    es_settings = _es_settings(settings, f"http://{address}")
    with database.session() as session:
        import_registry(session, sample_registry_file)
        healthy = session.scalars(
            select(Source.id).where(Source.url.like("%/rss.xml")).order_by(Source.id).limit(FEEDS)
        ).all()
        session.query(Source).update({Source.enabled: Source.id.in_(healthy)})
    backend = open_backend(es_settings, node_class=PlainJsonNode)
    clock = Clock(START)
    readiness = LazyReady(backend, clock)
    servers: list[OsmemServer] = []
    try:
        # Start-up: the cluster does not answer; the worker says so and goes on.
        with caplog.at_level(logging.WARNING, logger="index.readiness"):
            assert not readiness.check()
        assert "search backend not ready" in caplog.text
        jobs = {
            name: job
            for name, job, _every in worker_jobs(es_settings, database, backend, readiness, clock=clock)
        }

        jobs["crawl"]()
        jobs["drain"]()  # within the back-off: no attempt, nothing lost
        with database.session() as session:
            items = session.scalar(select(func.count(Item.id))) or 0
            rows = session.scalar(select(func.count(OutboxEntry.id))) or 0
        assert items >= 20 and rows >= items
        clock.now += timedelta(seconds=BACKOFF_BASE_S)
        jobs["drain"]()  # tries again, still down: the rows wait, untouched
        assert readiness.failures == 2 and not readiness.ready
        assert index_status(database, now=clock.now).pending == rows

        servers.append(OsmemServer.start(japanese=False, addr=address))
        jobs["drain"]()  # the second back-off (2 x base) is not over yet
        assert index_status(database, now=clock.now).pending == rows
        clock.now += timedelta(seconds=2 * BACKOFF_BASE_S)
        jobs["drain"]()
        assert readiness.ready
        assert index_status(database, now=clock.now).pending == 0
        with database.session() as session:
            states = Counter(session.scalars(select(Item.state)))
        assert backend.count() == items
        assert backend.stats().by_state == dict(states)
    finally:
        backend.close()
        for server in servers:
            server.close()


@pytest.mark.elasticsearch
def test_a_cluster_down_at_start_is_asked_again_at_least_once_a_minute(settings: Settings) -> None:
    """The readiness check backs off like the outbox but asks at least once a minute: a cluster that
    comes back after a long outage is noticed within a minute, not after the rows' hour-long back-off."""
    es_settings = _es_settings(settings, f"http://127.0.0.1:{closed_port()}")
    backend = open_backend(es_settings, node_class=PlainJsonNode)
    clock = Clock(START)
    readiness = LazyReady(backend, clock)
    try:
        for _ in range(3 * 60):  # three hours, checked every minute as a drain tick would
            assert not readiness.check()
            clock.now += timedelta(minutes=1)
    finally:
        backend.close()
    assert readiness.retry_at is not None and readiness.retry_at - START <= timedelta(hours=3, minutes=1)
    assert readiness.failures >= 3 * 60 - 10  # after the first minutes of doubling, one attempt a minute
