"""``xinlian worker``: crawl due sources and drain the index outbox, forever (steps 3-7).

The worker keeps a pool of crawl processes (crawlers/pool.py) for its whole life, so a crawl tick pays
no process start-up. The scheduler runs its jobs in threads: the outbox drain goes on while a crawl
tick waits for the pool.
"""

from __future__ import annotations

import logging

import typer

from api.feeds.hubjob import hub_job
from cli.context import cli_context
from crawlers.pool import CrawlPool
from crawlers.runner import crawl as run_crawl
from crawlers.websub import renew_due
from hub.db import Database
from hub.health.job import health_job
from hub.logsetup import configure_logging
from hub.scheduler import build_scheduler, claim_due_sources
from hub.settings import Settings
from index.factory import open_backend
from index.outbox import drain_outbox

log = logging.getLogger("xinlian.worker")


def crawl_tick(settings: Settings, database: Database, pool: CrawlPool | None = None) -> int:
    """Crawl the sources that are due now (on ``pool``, or a pool for this tick); returns how many."""
    with database.session() as session:
        source_ids = claim_due_sources(
            session, settings.worker.batch, settings.worker.per_host_cap, settings.worker.lease_s
        )
    if source_ids:
        summary = run_crawl(settings, source_ids, trigger="scheduler", pool=pool)
        log.info(
            "crawled %d sources: %d new, %d updated, %d failed",
            len(source_ids),
            summary.items_new,
            summary.items_updated,
            summary.sources_failed,
        )
    return len(source_ids)


def worker(ctx: typer.Context) -> None:
    """Run the scheduler: crawl due sources, apply index updates, send due WebSub subscriptions."""
    context = cli_context(ctx)
    settings = context.settings
    database = context.database
    configure_logging(settings.log_level, settings.web.log_format)
    backend = open_backend(settings)
    backend.ensure_ready()
    pool = CrawlPool(settings)

    def drain() -> None:
        stats = drain_outbox(database, backend, settings.search.outbox_batch, zone=settings.timezone)
        log.debug("outbox: %s", stats)

    def crawl() -> None:
        crawl_tick(settings, database, pool)

    def websub() -> None:
        renew_due(settings, database)

    scheduler = build_scheduler(
        [
            ("crawl", crawl, settings.worker.tick_s),
            ("drain", drain, settings.worker.drain_s),
            ("websub", websub, settings.websub.renew_s),
            ("websubhub", hub_job(settings, database, backend), settings.websubhub.tick_s),
            ("health", health_job(settings, database), settings.health.tick_s),
        ]
    )
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
