"""The worker's crawl tick: due sources are crawled once, then wait for their adaptive next check; the
worker's health and alerts jobs, wired as the worker wires them, turn a broken source into an alert."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from cli.worker_cmd import crawl_tick, worker_jobs
from hub.db import Database
from hub.models import AlertOutbox, CrawlRun, Item, Source
from hub.registry import import_registry
from hub.settings import Settings
from hub.timeutil import utcnow
from index.factory import open_backend
from index.readiness import LazyReady
from samplenet.server import RunningNetwork
from tests import test_alerts
from tests.moderation_seed import add_unit
from tests.test_alerts import Receiver, Smtp, alert_settings
from tests.test_health_status import add_items, add_source, crawled

receiver = test_alerts.receiver
smtp = test_alerts.smtp


def test_tick_crawls_due_sources_once_and_schedules_them(
    settings: Settings, database: Database, sample_registry_file: Path, sample_server: RunningNetwork
) -> None:
    with database.session() as session:
        import_registry(session, sample_registry_file)
        # Only the city's healthy RSS source and a branch site answering 500 are due.
        session.query(Source).update({Source.enabled: False})
        rss = session.scalars(select(Source).where(Source.url.like("%/sites/city/rss.xml"))).one()
        broken = session.scalars(select(Source).where(Source.url.like("%/sites/d01-b01/atom.xml"))).one()
        rss.enabled = broken.enabled = True
        rss_id, broken_id = rss.id, broken.id

    assert crawl_tick(settings, database, rng=random.Random(3), owner="test-worker") == 2
    with database.session() as session:
        assert (session.scalar(select(func.count(Item.id)).where(Item.source_id == rss_id)) or 0) > 0
        run = session.scalars(select(CrawlRun)).one()
        assert run.trigger == "scheduler" and (run.sources_ok, run.sources_failed) == (1, 1)
        city = session.get(Source, rss_id)
        assert city is not None and city.last_success_at is not None and city.last_checked_at is not None
        # The lease ended with the crawl; the next check is the city's (15 min to 1 h, ±10 % jitter).
        assert (city.leased_until, city.lease_owner) == (None, None)
        assert city.next_check_at is not None and city.entries_rate_at is not None
        wait = city.next_check_at - city.last_checked_at
        assert timedelta(minutes=13) <= wait <= timedelta(minutes=67)
        # The 500 is a temporary failure: weighted, the failing streak started, not paused.
        failing = session.get(Source, broken_id)
        assert failing is not None and failing.last_error_kind == "http_5xx"
        assert failing.failure_score == settings.schedule.failure_weights["temporary"]
        assert failing.failing_since is not None and failing.paused_at is None
        assert failing.leased_until is None

    # The outcomes set the next checks ahead: the next tick has nothing to do.
    assert crawl_tick(settings, database) == 0


def test_the_workers_health_job_queues_an_alert_and_its_alerts_job_delivers_it(
    settings: Settings, database: Database, receiver: Receiver, smtp: Smtp
) -> None:
    # The jobs run on the real clock, as in the worker: the data is dated relative to it.
    settings = alert_settings(settings, receiver, smtp, email_to=[], contacts={})  # the webhook only
    now = utcnow()
    with database.session() as session:
        branch = add_unit(session, "b1", "branch", add_unit(session, "city", "city"))
        source = add_source(session, branch, "b1-feed")
        add_items(session, source, [1, 3, 6], now)
        crawled(session, source, now - timedelta(hours=2))
        source_id = source.id
    backend = open_backend(settings)
    try:
        jobs = {name: job for name, job, _ in worker_jobs(settings, database, backend, LazyReady(backend))}
        jobs["health"]()  # first classification: active, nobody told
        with database.session() as session:
            assert session.scalar(select(func.count(AlertOutbox.id))) == 0
            crawled(session, session.get_one(Source, source_id), now - timedelta(hours=1), "http_5xx")
        jobs["health"]()  # active -> broken: the alert listener queues a row
        with database.session() as session:
            (row,) = session.scalars(select(AlertOutbox)).all()
            assert (row.event, row.kind, row.source_id) == ("failing", "webhook", source_id)
            assert row.sent_at is None
        jobs["alerts"]()  # delivered to the loopback receiver
    finally:
        backend.close()
    (body,) = receiver.bodies()
    assert (body["event"], body["status"], body["source"]["id"]) == ("failing", "broken", source_id)
    with database.session() as session:
        assert session.scalars(select(AlertOutbox.sent_at)).one() is not None
