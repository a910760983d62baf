"""The crawl worker process: ``python -m crawlers.process <job.json>`` (docs/architecture.md step 4).

Runs Scrapy for one CrawlRun. Scrapy's reactor starts once per process and crawling never runs in
the web process, so crawlers.runner starts this module as a child. The job file (0600, written by
the runner) holds the settings, the run id and the source ids; it is read and removed at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from scrapy.crawler import AsyncCrawlerProcess
from sqlalchemy import select

from crawlers.ledger import CrawlLedger, SourceJob
from crawlers.scrapy_settings import scrapy_settings
from crawlers.spiders.feed import FeedSpider
from crawlers.spiders.htmllist import HtmlListSpider
from hub.crawlrecord import finish_run
from hub.db import Database
from hub.models import Source, SourceKind, Unit
from hub.settings import Settings

FEED_KINDS = frozenset({SourceKind.FEED.value, SourceKind.ACCOUNT.value})


def read_job_file(path: Path) -> tuple[Settings, int, list[int]]:
    """Settings, run id and source ids from the runner's job file, which is then deleted."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    finally:
        path.unlink(missing_ok=True)
    # model_validate reads only the given values: no environment, no TOML file in the child.
    settings = Settings.model_validate(data["settings"])
    return settings, int(data["run_id"]), [int(i) for i in data["source_ids"]]


def load_jobs(database: Database, source_ids: list[int]) -> list[SourceJob]:
    """The sources of the run as plain data (no ORM objects cross into the reactor)."""
    with database.session() as session:
        rows = session.execute(
            select(Source, Unit.name).join(Unit, Unit.id == Source.unit_id).where(Source.id.in_(source_ids))
        ).all()
        return [
            SourceJob(
                id=source.id,
                name=source.name,
                kind=source.kind,
                url=source.url,
                selectors=dict(source.selectors or {}),
                etag=source.etag,
                last_modified=source.last_modified,
                site_name=unit_name,
            )
            for source, unit_name in rows
        ]


def run_crawl(settings: Settings, run_id: int, source_ids: list[int]) -> None:
    """Crawl ``source_ids`` for run ``run_id`` and close the run (sources left over count as aborted)."""
    database = Database(settings.store.url)
    try:
        jobs = load_jobs(database, source_ids)
        ledger = CrawlLedger(database, run_id, jobs, settings.crawl.removed_after_missing)
        try:
            _crawl(settings, ledger, jobs)
        finally:
            ledger.shutdown()
        with database.session() as session:
            finish_run(session, run_id, source_ids)
    finally:
        database.dispose()


def _crawl(settings: Settings, ledger: CrawlLedger, jobs: list[SourceJob]) -> None:
    feed_jobs = [job for job in jobs if job.kind in FEED_KINDS]
    html_jobs = [job for job in jobs if job.kind not in FEED_KINDS]
    if not jobs:
        return
    process = AsyncCrawlerProcess(scrapy_settings(settings))
    common = {
        "ledger": ledger,
        "crawl_settings": settings.crawl,
        "zone": settings.timezone,
        "bridge": settings.bridge,
    }
    if feed_jobs:
        process.crawl(FeedSpider, jobs=feed_jobs, **common)
    if html_jobs:
        process.crawl(HtmlListSpider, jobs=html_jobs, **common)
    process.start()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the worker process."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m crawlers.process <job-file.json>", file=sys.stderr)
        return 2
    settings, run_id, source_ids = read_job_file(Path(args[0]))
    run_crawl(settings, run_id, source_ids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
