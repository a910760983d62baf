"""Run a crawl on the crawl worker pool and follow it (docs/architecture.md step 4).

``crawl()`` creates the CrawlRun, splits its sources by host (crawlers/partition.py) among the long-lived
workers of a ``CrawlPool`` (crawlers/pool.py), reports progress by counting the run's outcomes in the
database, closes the run and returns a summary. Without a pool it starts one for this run alone
(``xinlian crawl``); ``xinlian worker`` keeps one for its lifetime. If a worker dies or the crawl is
interrupted, the run is still closed, with the unfinished sources recorded as failed ("aborted").
While it runs, the run's heartbeat is written; a run left open by a killed process (no heartbeat for
``worker.lease_s``) is closed as "abandoned" by the next crawl (hub/crawlrecord.close_abandoned_runs).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from crawlers.partition import partition, processes_for, source_weight
from crawlers.pool import CrawlPool, PartResult, usable_cores
from hub.crawlrecord import close_abandoned_runs, count_outcomes, finish_run, heartbeat, start_run
from hub.db import Database, retry_on_disconnect
from hub.models import CrawlOutcome, CrawlRun, Source, SourceKind
from hub.settings import Settings

HEARTBEAT_MAX_S = 30.0
logger = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class SourceOutcome:
    """How one source fared in the run."""

    source_id: int
    source_name: str
    url: str
    status: str
    error_kind: str | None
    http_status: int | None
    message: str | None
    items_seen: int
    items_new: int
    items_updated: int
    duration_ms: int


@dataclass(slots=True)
class CrawlSummary:
    """What one crawl run did."""

    run_id: int
    sources_total: int = 0
    sources_ok: int = 0
    sources_failed: int = 0
    items_new: int = 0
    items_updated: int = 0
    wall_s: float = 0.0
    exit_code: int = 0
    outcomes: list[SourceOutcome] = field(default_factory=list)
    parts: dict[int, list[int]] = field(default_factory=dict)  # worker pid -> the sources it crawled


def crawl(
    settings: Settings,
    source_ids: list[int] | None = None,
    trigger: str = "cli",
    on_progress: Callable[[int, int], None] | None = None,
    pool: CrawlPool | None = None,
) -> CrawlSummary:
    """Crawl ``source_ids`` (default: every enabled source) on ``pool`` (or one of its own); summarize."""
    started = time.monotonic()
    database = Database(settings.store.url)
    try:
        abandoned = _sweep_abandoned(database, settings.worker.lease_s)
        if abandoned and settings.crawl.frontier_url:
            from crawlers.frontier.runs import forget_runs  # the optional frontier extra

            crawl_settings = settings.crawl
            forget_runs(
                crawl_settings.frontier_url,
                crawl_settings.frontier_timeout_s,
                crawl_settings.frontier_key_prefix,
                abandoned,
            )
        with database.session() as session:
            query = select(Source.id, Source.url, Source.kind)
            if source_ids is None:
                query = query.where(Source.enabled.is_(True))
            else:
                query = query.where(Source.id.in_(source_ids))
            found = session.execute(query.order_by(Source.id)).all()
            rows = [(source_id, url) for source_id, url, _ in found]
            weight = source_weight(kind for _, _, kind in found)
            frontier_ids = [source_id for source_id, _, kind in found if kind == SourceKind.HTML.value]
            if source_ids is None:
                source_ids = [source_id for source_id, _ in rows]
            run_id = start_run(session, trigger, source_ids, owner=run_owner()).id
        total = len(source_ids)
        results: list[PartResult] | None = None
        redis_lost: list[str] = []  # why the frontier's Redis lost the run, if it did (frontier_run)
        try:
            if rows:
                results = _run_parts(
                    settings,
                    database,
                    run_id,
                    rows,
                    total,
                    weight,
                    len(frontier_ids),
                    on_progress,
                    pool,
                    redis_lost.append,
                )
        finally:
            # Interrupted, a worker killed or crashed: close the run with the unfinished sources as failures.
            reasons: dict[int, str] = {}
            if redis_lost:  # its frontier sources left without an outcome say why
                why = f"the frontier's Redis {redis_lost[0]} before this source finished"
                reasons = dict.fromkeys(frontier_ids, why)
            _close_run(database, run_id, source_ids, results, reasons)
        if on_progress is not None:
            on_progress(total, total)
        summary = summarize(database, run_id)
        summary.wall_s = time.monotonic() - started
        summary.exit_code = 0 if all(result.finished for result in results or []) else 1
        summary.parts = {result.pid: result.source_ids for result in results or []}
        return summary
    finally:
        database.dispose()


def _run_parts(
    settings: Settings,
    database: Database,
    run_id: int,
    rows: list[tuple[int, str]],
    total: int,
    weight: int,
    frontier_sources: int,
    on_progress: Callable[[int, int], None] | None,
    pool: CrawlPool | None,
    on_redis_lost: Callable[[str], None],
) -> list[PartResult]:
    crawl = settings.crawl
    if pool is not None and pool.settings != settings:
        raise ValueError("the crawl pool was started with other settings")

    beat = Heartbeat(database, run_id, heartbeat_every_s(settings.worker.lease_s))

    def report() -> None:
        beat()
        if on_progress is not None:
            with database.session() as session:
                on_progress(count_outcomes(session, run_id), total)

    if pool is not None:
        parts = partition(rows, processes_for(weight, pool.size, crawl.min_sources_per_process))
        with _frontier(settings, run_id, frontier_sources, len(parts), on_redis_lost):
            return pool.run(run_id, parts, report)
    configured = crawl.processes or usable_cores()
    parts = partition(rows, processes_for(weight, configured, crawl.min_sources_per_process))
    frontier = _frontier(settings, run_id, frontier_sources, len(parts), on_redis_lost)
    with CrawlPool(settings, len(parts)) as own, frontier:
        return own.run(run_id, parts, report)


def _frontier(
    settings: Settings, run_id: int, sources: int, processes: int, on_lost: Callable[[str], None]
) -> AbstractContextManager[None]:
    """The run's Redis frontier record in frontier mode (crawlers/frontier/runs.py), opened before its
    processes start and deleted when they (and any joiners of other machines, ``xinlian crawl join``) are
    done; nothing otherwise, or for a run without HTML list sources (its processes then start no frontier
    crawler). ``on_lost(why)``: Redis lost the run on the way (its processes left it)."""
    if not settings.crawl.frontier_url or not sources:
        return nullcontext()
    from crawlers.frontier.keys import RunKeys  # the optional frontier extra: only when the setting is on
    from crawlers.frontier.runs import frontier_run
    from crawlers.frontier.settings import HostBudget

    crawl = settings.crawl
    keys = RunKeys(crawl.frontier_key_prefix, run_id)
    # Slots for joiners on other machines count from the start: each process's share of a host stays fixed.
    remote = crawl.frontier_remote_processes
    # A joined process ends within a poll of the run's end, or by the stall rule as the local ones did.
    return frontier_run(
        crawl.frontier_url,
        crawl.frontier_timeout_s,
        keys,
        sources,
        processes + remote,
        remote,
        joiners_wait_s=crawl.frontier_stall_s,
        budget=HostBudget.of(settings),  # joiners divide ours, whatever their own settings say
        on_lost=on_lost,
    )


def run_owner() -> str:
    """Who runs a crawl: this host and process (a worker's leases name it the same way)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_every_s(stale_after_s: float) -> float:
    """How often a running crawl says it is alive: several times within the time after which the
    sweep takes it for dead, and at least twice a minute."""
    return min(stale_after_s / 4, HEARTBEAT_MAX_S)


class Heartbeat:
    """Marks run ``run_id`` alive at most every ``every_s`` (called on the pool's every tick)."""

    def __init__(self, database: Database, run_id: int, every_s: float) -> None:
        self.database = database
        self.run_id = run_id
        self.every_s = every_s
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last < self.every_s:
            return
        self.last = time.monotonic()
        try:
            with self.database.session() as session:
                heartbeat(session, self.run_id)
        except DBAPIError as exc:
            # Not worth stopping the crawl for (an exception here would cancel the run): the store is
            # probably restarting, and the next beat comes in a moment.
            logger.warning("crawl run %d: heartbeat not written (%s)", self.run_id, exc.orig)


def _sweep_abandoned(database: Database, stale_after_s: float) -> list[int]:
    """Close the runs that killed processes left open (no heartbeat for ``stale_after_s``); their ids."""

    def sweep() -> list[int]:
        with database.session() as session:
            return close_abandoned_runs(session, stale_after_s)

    closed = retry_on_disconnect(sweep, "closing abandoned crawl runs")
    if closed:
        logger.warning("closed %d crawl runs left open by a process that died: %s", len(closed), closed)
    return closed


def _close_run(
    database: Database,
    run_id: int,
    source_ids: list[int],
    results: list[PartResult] | None,
    reasons: dict[int, str] | None = None,
) -> None:
    """Close the run; a source without an outcome is aborted with its reason in ``reasons`` if it has
    one there, otherwise with the run's."""
    lost = [result.message for result in results or [] if not result.finished and result.message]
    if results is None:
        why = "the crawl was interrupted before this source finished"
    elif lost:
        why = f"{lost[0]} before this source finished"
    else:
        why = "the crawl ended before this source was finished"

    def close() -> None:
        with database.session() as session:
            finish_run(
                session,
                run_id,
                source_ids,
                missing_message=why,
                missing_messages=reasons,
            )

    # A store restarting now must not leave the run open with its sources' outcomes missing.
    retry_on_disconnect(close, f"closing crawl run {run_id}")


def summarize(database: Database, run_id: int) -> CrawlSummary:
    """The summary of a finished run, read back from the database."""
    with database.session() as session:
        run = session.get(CrawlRun, run_id)
        if run is None:
            raise ValueError(f"unknown crawl run {run_id}")
        # Plain columns, not ORM objects: a run may have thousands of outcomes.
        rows = session.execute(
            select(
                CrawlOutcome.source_id,
                Source.name,
                Source.url,
                CrawlOutcome.status,
                CrawlOutcome.error_kind,
                CrawlOutcome.http_status,
                CrawlOutcome.message,
                CrawlOutcome.items_seen,
                CrawlOutcome.items_new,
                CrawlOutcome.items_updated,
                CrawlOutcome.duration_ms,
            )
            .join(Source, Source.id == CrawlOutcome.source_id)
            .where(CrawlOutcome.run_id == run_id)
            .order_by(CrawlOutcome.id)
        ).all()
        outcomes = [SourceOutcome(*row) for row in rows]
        return CrawlSummary(
            run_id=run_id,
            sources_total=run.sources_total,
            sources_ok=run.sources_ok,
            sources_failed=run.sources_failed,
            items_new=run.items_new,
            items_updated=run.items_updated,
            outcomes=outcomes,
        )
