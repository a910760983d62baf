"""The crawl worker pool: long-lived processes reused across runs, runs split by host, a killed worker
loses nothing (its unfinished sources are closed as aborted) and is replaced."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from crawlers.partition import host_of, partition, processes_for, source_weight
from crawlers.pool import CrawlPool
from crawlers.runner import crawl
from hub.db import Database
from hub.models import CrawlOutcome, CrawlRun, Source
from hub.registry import import_registry
from hub.settings import Settings

SECOND_HOST = "localhost"  # the sample server again, under a second host name


def test_partition_keeps_each_host_in_one_part() -> None:
    sources = [(i, f"http://{host}/feed/{i}") for i, host in enumerate("aabbbccdde", start=1)]
    parts = partition(sources, 2)
    assert len(parts) == 2
    owner = {}
    for index, part in enumerate(parts):
        assert not part.host_shares
        for source_id in part.source_ids:
            owner.setdefault(host_of(sources[source_id - 1][1]), set()).add(index)
    assert all(len(indexes) == 1 for indexes in owner.values())
    assert sorted(len(part.source_ids) for part in parts) == [5, 5]
    assert sorted(i for part in parts for i in part.source_ids) == list(range(1, 11))


def test_partition_spreads_a_host_bigger_than_a_share_and_divides_its_budget() -> None:
    sources = [(i, f"http://platform.example:8080/site{i}/rss.xml") for i in range(1, 9)]
    sources += [(9, "http://other.example/rss.xml")]
    parts = partition(sources, 2)
    assert [part.host_shares for part in parts] == [{"platform.example": 2}, {"platform.example": 2}]
    assert sorted(i for part in parts for i in part.source_ids) == list(range(1, 10))
    assert partition(sources, 1)[0].host_shares == {}
    assert processes_for(9, 2, 25) == 1 and processes_for(60, 2, 25) == 2 and processes_for(600, 2, 25) == 2
    # 26 HTML sources (list pages + ~20 articles each) are worth both processes; 26 feeds are not.
    assert processes_for(source_weight(["html"] * 26), 2, 25) == 2
    assert processes_for(source_weight(["feed"] * 26), 2, 25) == 1


@pytest.fixture
def pool_settings(settings: Settings) -> Settings:
    """Two crawl processes, used even for a handful of sources, and the sample server's second host name."""
    crawl_settings = settings.crawl.model_copy(
        update={
            "processes": 2,
            "min_sources_per_process": 1,
            "allowed_private_hosts": [*settings.crawl.allowed_private_hosts, SECOND_HOST],
        }
    )
    return settings.model_copy(update={"crawl": crawl_settings})


@pytest.fixture
def pool(pool_settings: Settings) -> Iterator[CrawlPool]:
    with CrawlPool(pool_settings) as started:
        yield started


def _import(database: Database, registry: Path, ground_truth: dict[str, Any], keep_slow: bool) -> list[int]:
    """Import the sample registry; keep the healthy feed and HTML sources (and the slow one if asked)."""
    with database.session() as session:
        import_registry(session, registry)
        wanted = [
            url
            for url, truth in ground_truth["sources"].items()
            if truth["failure"] is None or (keep_slow and truth["failure"] == "timeout")
        ]
        session.execute(update(Source).where(Source.url.not_in(wanted)).values(enabled=False))
        return list(session.scalars(select(Source.id).where(Source.enabled.is_(True)).order_by(Source.id)))


def _move_to_second_host(database: Database, source_ids: list[int]) -> None:
    with database.session() as session:
        for source in session.scalars(select(Source).where(Source.id.in_(source_ids))):
            source.url = source.url.replace("127.0.0.1", SECOND_HOST)


def test_pool_is_reused_across_runs_and_splits_sources_by_host(
    pool: CrawlPool,
    pool_settings: Settings,
    database: Database,
    sample_registry_file: Path,
    sample_ground_truth: dict[str, Any],
) -> None:
    source_ids = _import(database, sample_registry_file, sample_ground_truth, keep_slow=False)
    assert len(source_ids) >= 4
    second = source_ids[::2]
    _move_to_second_host(database, second)
    pids = pool.pids()
    assert len(set(pids)) == 2

    first = crawl(pool_settings, trigger="test", pool=pool)
    again = crawl(pool_settings, trigger="test", pool=pool)

    assert pool.pids() == pids  # the same two processes served both runs
    for summary in (first, again):
        assert summary.sources_total == len(source_ids) and summary.sources_failed == 0
        assert set(summary.parts) == set(pids)
        # Each host's sources were crawled by one process, each process had one host.
        by_pid = {pid: set(ids) for pid, ids in summary.parts.items()}
        assert sorted(map(sorted, by_pid.values())) == sorted(
            [sorted(second), sorted(set(source_ids) - set(second))]
        )
    assert first.items_new > 0 and again.items_new == 0
    # Two processes wrote the store at once: no batch was lost to a locked database.
    assert not any("could not be stored" in (o.message or "") for o in first.outcomes)


def test_killed_worker_closes_the_run_with_aborted_sources_and_is_replaced(
    pool: CrawlPool,
    pool_settings: Settings,
    database: Database,
    sample_registry_file: Path,
    sample_ground_truth: dict[str, Any],
) -> None:
    source_ids = _import(database, sample_registry_file, sample_ground_truth, keep_slow=True)
    slow = [url for url, truth in sample_ground_truth["sources"].items() if truth["failure"] == "timeout"]
    with database.session() as session:
        slow_ids = set(session.scalars(select(Source.id).where(Source.url.in_(slow))))
        rows = list(session.execute(select(Source.id, Source.url).where(Source.id.in_(source_ids))))
    assert slow_ids
    # The runner sends part i of its split to worker i: find the worker that gets a slow source.
    parts = partition([(source_id, url) for source_id, url in rows], pool.size)
    victim_index = next(i for i, part in enumerate(parts) if slow_ids & set(part.source_ids))
    victim = pool.pids()[victim_index]
    killed: list[int] = []
    started = time.monotonic()

    def kill_once(done: int, total: int) -> None:
        # Half a second in: the slow source waits 3 s for its timeout, so it is still in flight.
        if time.monotonic() - started >= 0.5 and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    summary = crawl(pool_settings, trigger="test", on_progress=kill_once, pool=pool)

    assert killed and summary.exit_code != 0
    with database.session() as session:
        run = session.get(CrawlRun, summary.run_id)
        assert run is not None and run.finished_at is not None
        assert run.sources_ok + run.sources_failed == len(source_ids)
        per_source = session.execute(
            select(CrawlOutcome.source_id, func.count())
            .where(CrawlOutcome.run_id == run.id)
            .group_by(CrawlOutcome.source_id)
        ).all()
        assert len(per_source) == len(source_ids) and all(count == 1 for _, count in per_source)
        aborted = session.execute(
            select(CrawlOutcome.status, CrawlOutcome.error_kind, CrawlOutcome.message).where(
                CrawlOutcome.run_id == run.id, CrawlOutcome.source_id.in_(slow_ids)
            )
        ).all()
        assert aborted and all(status == "failed" and kind == "aborted" for status, kind, _ in aborted), (
            aborted
        )
        assert all("died" in (message or "") for _, _, message in aborted)

    # The pool replaced the dead process; the next run works on it.
    assert victim not in pool.pids() and len(pool.pids()) == 2
    with database.session() as session:
        session.execute(update(Source).where(Source.id.in_(slow_ids)).values(enabled=False))
    after = crawl(pool_settings, trigger="test", pool=pool)
    assert after.sources_failed == 0 and after.sources_ok == len(source_ids) - len(slow_ids)
