"""``xinlian worker``: crawl due sources and drain the index outbox, forever (steps 3-7).

The worker keeps a pool of crawl processes (crawlers/pool.py) for its whole life, so a crawl tick pays
no process start-up. The scheduler runs its jobs in threads: the outbox drain goes on while a crawl
tick waits for the pool. The worker starts while the search backend is down (issue 5): crawling,
ingestion and moderation go on, index updates wait in the outbox, and the drain job gets the backend
ready first (index/readiness.py, with the outbox's back-off) and then drains the backlog.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Callable, Sequence
from datetime import datetime

import typer

from api.feeds.hubjob import hub_job
from cli.context import cli_context
from crawlers.pool import CrawlPool
from crawlers.runner import crawl as run_crawl
from crawlers.websub import renew_due
from hub.alerts.job import alerts_job
from hub.alerts.listener import alert_listeners
from hub.db import Database, retry_on_disconnect
from hub.health.job import health_job
from hub.logsetup import configure_logging, secret_values
from hub.schedule.hooks import StatusHook, status_hooks
from hub.schedule.reschedule import RescheduleSummary, reschedule_run
from hub.scheduler import build_scheduler, claim_due_sources
from hub.settings import Settings
from hub.timeutil import utcnow
from index.backend import SearchBackend
from index.factory import open_backend
from index.outbox import drain_outbox
from index.readiness import LazyReady

log = logging.getLogger("xinlian.worker")


def worker_name() -> str:
    """Who holds a lease: this host and process (``xinlian sources list`` and the store show it)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def crawl_tick(
    settings: Settings,
    database: Database,
    pool: CrawlPool | None = None,
    hooks: Sequence[StatusHook] = (),
    rng: random.Random | None = None,
    owner: str | None = None,
) -> int:
    """Crawl the sources that are due now (on ``pool``, or a pool for this tick); returns how many.

    Claimed sources are leased to ``owner``; the crawl's outcomes end the leases, then every source of
    the run gets its adaptive next check (hub/schedule/reschedule.py), pauses and resumptions going
    to ``hooks``. The claim and the reschedule wait for a store that is restarting
    (hub/db.py ``retry_on_disconnect``); a claim whose COMMIT was cut may have leased sources this tick
    never learns of: they are crawled when the lease runs out.
    """

    def claim() -> list[int]:
        with database.session() as session:
            return claim_due_sources(
                session,
                settings.worker.batch,
                settings.worker.per_host_cap,
                settings.worker.lease_s,
                owner=owner or worker_name(),
            )

    source_ids = retry_on_disconnect(claim, "claiming due sources")
    if not source_ids:
        return 0
    summary = run_crawl(settings, source_ids, trigger="scheduler", pool=pool)
    websub_poll_s = settings.websub.safety_poll_s if settings.websub.enabled else None
    jitter = rng or random.Random()

    def reschedule() -> RescheduleSummary:
        with database.session() as session:
            return reschedule_run(
                session, summary.run_id, settings.schedule, utcnow(), jitter, hooks, websub_poll_s
            )

    planned = retry_on_disconnect(reschedule, "rescheduling the crawled sources")
    log.info(
        "crawled %d sources: %d new, %d updated, %d failed; %d paused, %d resumed",
        len(source_ids),
        summary.items_new,
        summary.items_updated,
        summary.sources_failed,
        planned.paused,
        planned.resumed,
    )
    return len(source_ids)


Job = tuple[str, Callable[[], None], float]


def worker_jobs(
    settings: Settings,
    database: Database,
    backend: SearchBackend,
    readiness: LazyReady,
    pool: CrawlPool | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> list[Job]:
    """The worker's scheduled jobs, ``(name, function, every_seconds)``; ``pool``: None for a pool
    per crawl tick (tests), ``clock``: "now" of the outbox drain."""

    def drain() -> None:
        if not readiness.check():  # down: rows wait in the outbox; retried after the back-off
            return
        stats = drain_outbox(
            database, backend, settings.search.outbox_batch, now=clock(), zone=settings.timezone
        )
        log.debug("outbox: %s", stats)

    hooks = status_hooks(settings)
    rng = random.Random()
    owner = worker_name()

    def crawl() -> None:
        crawl_tick(settings, database, pool, hooks, rng, owner)

    def websub() -> None:
        renew_due(settings, database)

    return [
        ("crawl", crawl, settings.worker.tick_s),
        ("drain", drain, settings.worker.drain_s),
        ("websub", websub, settings.websub.renew_s),
        ("websubhub", hub_job(settings, database, backend), settings.websubhub.tick_s),
        ("health", health_job(settings, database, alert_listeners(settings)), settings.health.tick_s),
        ("alerts", alerts_job(settings, database), settings.alerts.tick_s),
    ]


def worker(ctx: typer.Context) -> None:
    """Run the scheduler: crawl due sources, apply index updates, send due WebSub subscriptions."""
    context = cli_context(ctx)
    settings = context.settings
    database = context.database
    configure_logging(settings.log_level, settings.web.log_format, secret_values(settings))
    backend = open_backend(settings)
    readiness = LazyReady(backend)
    if not readiness.check():  # logged; crawling goes on and the drain job tries again
        context.console.print(
            f"search backend not ready ({readiness.last_error}): crawling anyway,"
            " index updates wait in the outbox",
            style="yellow",
            markup=False,
        )
    pool = CrawlPool(settings)
    scheduler = build_scheduler(worker_jobs(settings, database, backend, readiness, pool))
    try:
        started_s = pool.start()
        context.console.print(
            f"worker started: {pool.size} crawl processes (up in {started_s:.1f}s),"
            f" crawl every {settings.worker.tick_s}s, drain every {settings.worker.drain_s}s"
        )
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        context.console.print("worker stopped")
    finally:
        pool.close()
        backend.close()
