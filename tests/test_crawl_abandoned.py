"""Crawl runs left open by a killed process are closed as "abandoned" (issue 8).

A run writes its heartbeat while it runs (crawlers/runner.py); a run with none for ``worker.lease_s`` was
left by a process that died, and the next crawl closes it with the totals of the outcomes it wrote.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crawlers.runner import crawl
from hub.crawlrecord import close_abandoned_runs, finish_run, heartbeat, record_outcome, start_run
from hub.db import Database
from hub.models import CrawlRun, Source
from hub.settings import Settings
from hub.timeutil import utcnow
from tests.fixtures.web import add_unit

STALE_S = 60.0


def _sources(database: Database, count: int) -> list[int]:
    with database.session() as session:
        unit = add_unit(session, "city", "示例市委", "city")
        sources = [
            Source(unit_id=unit.id, name=f"s{i}", kind="feed", url=f"http://127.0.0.1:9/{i}.xml")
            for i in range(count)
        ]
        session.add_all(sources)
        session.flush()
        return [source.id for source in sources]


def _run(database: Database, run_id: int) -> CrawlRun:
    with database.session() as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        return run


def test_only_runs_without_a_recent_heartbeat_are_closed(database: Database) -> None:
    ids = _sources(database, 3)
    now = utcnow()
    long_ago = now - timedelta(seconds=10 * STALE_S)
    with database.session() as session:
        dead = start_run(session, "scheduler", ids, now=long_ago, owner="host:1").id
        # The dead run had written one outcome before its process was killed.
        record_outcome(session, dead, ids[0], "ok", items_seen=4, items_new=2, now=long_ago)
        slow = start_run(session, "scheduler", ids, now=long_ago, owner="host:2").id
        heartbeat(session, slow, now=now - timedelta(seconds=STALE_S / 2))  # still beating
        fresh = start_run(session, "scheduler", ids, now=now, owner="host:3").id
        done = start_run(session, "scheduler", ids, now=long_ago, owner="host:4").id
        finish_run(session, done, ids, now=long_ago)
    with database.session() as session:
        assert close_abandoned_runs(session, STALE_S, now=now) == [dead]
    closed = _run(database, dead)
    assert closed.status == "abandoned" and closed.finished_at == now
    assert (closed.sources_ok, closed.sources_failed, closed.items_new) == (1, 0, 2)
    assert closed.sources_total == 3 and closed.owner == "host:1"
    for run_id in (slow, fresh):
        assert _run(database, run_id).status == "running" and _run(database, run_id).finished_at is None
    assert _run(database, done).status == "finished"
    with database.session() as session:  # a second sweep finds nothing more
        assert close_abandoned_runs(session, STALE_S, now=now) == []


def test_a_slow_run_closed_by_mistake_is_finished_by_its_own_process(database: Database) -> None:
    ids = _sources(database, 2)
    long_ago = utcnow() - timedelta(seconds=10 * STALE_S)
    with database.session() as session:
        run_id = start_run(session, "scheduler", ids, now=long_ago).id
        assert close_abandoned_runs(session, STALE_S) == [run_id]
        record_outcome(session, run_id, ids[0], "ok")
        finish_run(session, run_id, ids)
    run = _run(database, run_id)
    assert run.status == "finished" and (run.sources_ok, run.sources_failed) == (1, 1)


def test_the_next_crawl_closes_a_run_a_killed_worker_left_open(
    settings: Settings, database: Database
) -> None:
    ids = _sources(database, 2)
    with database.session() as session:
        left = start_run(
            session, "scheduler", ids, now=utcnow() - timedelta(seconds=settings.worker.lease_s + 1)
        )
        left_id = left.id
    summary = crawl(settings, [], trigger="test")  # any crawl sweeps first (here one with no sources)
    assert _run(database, left_id).status == "abandoned"
    new = _run(database, summary.run_id)
    assert new.status == "finished" and new.owner and new.heartbeat_at is not None
    with database.session() as session:
        assert session.scalars(select(CrawlRun.id).where(CrawlRun.finished_at.is_(None))).all() == []
