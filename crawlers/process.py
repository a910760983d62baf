"""The long-lived crawl worker process: ``python -m crawlers.process --reply-fd N`` (architecture step 4).

Started by crawlers.pool. It imports Scrapy once, starts one asyncio reactor and keeps it running; every
job it is sent (a run id and that run's sources for this process) becomes a few Scrapy crawlers in that
reactor, so a crawl pays neither the interpreter's start-up nor the imports. With ``crawl.fast_feeds``
(the default) feed and account sources are polled by crawlers/fastfeed/ in the same event loop instead,
over one aiohttp session kept for the process's life; the full text of their teaser-only entries is
then fetched by a Scrapy crawler. Crawling never runs in the web process.

Protocol, one JSON object per line: on stdin the pool's settings first (secrets never reach a command
line), then ``{"run": id, "source_ids": [...], "host_shares": {...}}`` and ``{"cancel": id}``; on the
reply descriptor ``{"ready": pid}`` once the reactor runs and ``{"done": id}`` when a job's outcomes
are all written. End of stdin (the pool closed, or its process died) stops the crawls gracefully —
unfinished sources are recorded as aborted — and then the process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from scrapy.crawler import AsyncCrawlerProcess, Crawler
from scrapy.settings import Settings as ScrapySettings
from sqlalchemy import select
from twisted.internet.error import ReactorNotRunning

from crawlers.fastfeed.fetch import FeedClient, FetchConfig
from crawlers.fastfeed.fulltext import FullTextSpider, HandOffQueue
from crawlers.fastfeed.worker import ABORTED, FeedRun
from crawlers.ledger import CrawlLedger, SourceJob
from crawlers.memtrim import heap_trimmer
from crawlers.quietlogs import quiet_recorded_failures
from crawlers.scrapy_settings import scrapy_settings
from crawlers.spiders.base import SourceSpider
from crawlers.spiders.feed import FeedSpider
from crawlers.spiders.htmllist import HtmlListSpider
from hub import fingerprint, nfkc
from hub.db import Database, retry_on_disconnect
from hub.logsetup import configure_logging, secret_values
from hub.models import Source, SourceKind, Unit
from hub.reposts import configure_reposts
from hub.settings import Settings
from hub.timeutil import utcnow
from moderation.screening import configure_screening

FEED_KINDS = frozenset({SourceKind.FEED.value, SourceKind.ACCOUNT.value})
# While a job runs, the C heap's free pages are handed back this often (crawlers/memtrim.py): a trim
# takes well under a millisecond, and freed chunks otherwise pile up through a large job.
TRIM_EVERY_S = 1.0

logger = logging.getLogger(__name__)


def load_jobs(database: Database, source_ids: list[int], revisit_after_s: int = 0) -> list[SourceJob]:
    """The sources of the run as plain data (no ORM objects cross into the reactor).

    A source whose answer was last parsed more than ``revisit_after_s`` ago (0: never) gets no
    validators: the crawl reads it whole, so edits its validators or unchanged bytes would hide are seen.
    """
    stale_before = utcnow() - timedelta(seconds=revisit_after_s) if revisit_after_s else None
    with database.session() as session:
        # The columns a job needs, not whole ORM rows: a re-poll loads hundreds of sources per run.
        rows = session.execute(
            select(
                Source.id,
                Source.name,
                Source.kind,
                Source.url,
                Source.selectors,
                Source.etag,
                Source.last_modified,
                Source.body_hash,
                Source.parsed_at,
                Unit.name.label("site_name"),
            )
            .join(Unit, Unit.id == Source.unit_id)
            .where(Source.id.in_(source_ids))
        )
        jobs: list[SourceJob] = []
        for row in rows:
            stale = stale_before is not None and (row.parsed_at is None or row.parsed_at < stale_before)
            jobs.append(
                SourceJob(
                    id=row.id,
                    name=row.name,
                    kind=row.kind,
                    url=row.url,
                    selectors=dict(row.selectors or {}),
                    etag=None if stale else row.etag,
                    last_modified=None if stale else row.last_modified,
                    site_name=row.site_name,
                    body_hash=None if stale else row.body_hash or None,
                )
            )
        return jobs


def configure_process_logging(settings: Settings) -> None:
    """Our stderr handler, masking the configured secrets, for every record of this process.

    Scrapy installs no root handler of its own (LOG_INSTALL_ROOT_HANDLER is off in scrapy_settings): the
    one it would install, and install again for every Crawler, has no filter, and its debug lines carry
    request URLs with the bridge's access key. Call it after AsyncCrawlerProcess(), whose logging set-up
    (scrapy.utils.log.configure_logging) resets the library loggers' levels.
    """
    debug = settings.log_level.upper() == "DEBUG"
    # As Scrapy's handler did: warnings and errors only, unless the settings ask for debug output.
    configure_logging("DEBUG" if debug else "WARNING", settings.web.log_format, secret_values(settings))
    quiet_recorded_failures()
    if not debug:
        # Records below the level are not even built: every request would make a debug record.
        logging.getLogger("scrapy").setLevel(logging.WARNING)


class CrawlServer:
    """One reactor, one database engine and one writer thread, serving crawl jobs until stdin ends."""

    def __init__(self, settings: Settings, reply_fd: int, messages: Iterator[bytes]) -> None:
        self.settings = settings
        self.reply_fd = reply_fd
        self.messages = messages
        self.database = Database(settings.store.url)
        configure_screening(self.database.sessions, settings.moderation)  # one lexicon per process
        configure_reposts(self.database.sessions, settings)  # repost threshold and zone from settings
        # One writer thread for every job of this process: SQLite has one writer per process anyway.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xinlian-db")
        self.process = AsyncCrawlerProcess(scrapy_settings(settings))
        configure_process_logging(settings)
        self.crawlers: dict[int, list[Crawler]] = {}
        self.feed_runs: dict[int, FeedRun] = {}  # runs' fast feed polls (crawlers/fastfeed/)
        self.feed_client: FeedClient | None = None  # opened on first use, in the reactor's event loop
        self.tasks: set[asyncio.Task[None]] = set()
        self.cancelled: set[int] = set()
        self.shutdown_task: asyncio.Future[None] | None = None
        self.release_heap = heap_trimmer()
        self.frontier_client: Any = None  # redis.Redis, opened by the first frontier run

    # --- messages -------------------------------------------------------------------------------
    def reply(self, message: dict[str, Any]) -> None:
        """Send one message to the pool; a pool that went away is not an error here."""
        try:
            os.write(self.reply_fd, json.dumps(message).encode("utf-8") + b"\n")
        except OSError:
            logger.warning("the crawl pool is gone; message dropped: %s", message)

    def receive(self, line: bytes) -> None:
        """A message from the pool (called in the reactor thread)."""
        message = json.loads(line)
        if "run" in message:
            self._spawn(
                self.run_job(
                    int(message["run"]),
                    [int(i) for i in message["source_ids"]],
                    {str(host): int(k) for host, k in message.get("host_shares", {}).items()},
                )
            )
        elif "cancel" in message:
            self._spawn(self.cancel(int(message["cancel"])))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _read_stdin(self) -> None:
        from twisted.internet import reactor

        for line in self.messages:
            reactor.callFromThread(self.receive, line)
        reactor.callFromThread(self._end_of_input)

    def _end_of_input(self) -> None:
        self.shutdown_task = asyncio.ensure_future(self.shutdown())

    # --- jobs -----------------------------------------------------------------------------------
    async def run_job(self, run_id: int, source_ids: list[int], host_shares: dict[str, int]) -> None:
        """Crawl this process's part of run ``run_id``; every source gets its outcome, then ``done``."""
        trimming = asyncio.ensure_future(self._trim_heap())
        try:
            await self._crawl_job(run_id, source_ids, host_shares)
        except Exception:
            logger.exception("crawl job of run %d failed", run_id)
        finally:
            trimming.cancel()
            # Whatever failed, even closing the ledger: the pool waits for this line, and the runner
            # records the sources left without an outcome as aborted.
            self.cancelled.discard(run_id)
            self.reply({"done": run_id})
            self.release_heap()  # the job's objects are gone: the process waits small for the next

    async def _trim_heap(self) -> None:
        """Release the C heap's free pages every TRIM_EVERY_S until cancelled (the job's end)."""
        while True:
            await asyncio.sleep(TRIM_EVERY_S)
            self.release_heap()

    async def _crawl_job(self, run_id: int, source_ids: list[int], host_shares: dict[str, int]) -> None:
        loop = asyncio.get_running_loop()

        def load() -> list[SourceJob]:
            # A store restarting now must not lose the batch: its sources would wait out their lease.
            return retry_on_disconnect(
                lambda: load_jobs(self.database, source_ids, self.settings.crawl.revisit_after_s),
                f"loading the sources of run {run_id}",
            )

        jobs = await loop.run_in_executor(self.writer, load)
        # Frontier mode: HTML list sources go to the run's shared Redis queue (crawlers/frontier/), joined
        # before anything starts so that a Redis refusing us leaves nothing running.
        frontier = self._join_frontier(run_id, jobs) if self.settings.crawl.frontier_url else None
        if frontier is not None:
            jobs = [job for job in jobs if job.kind != SourceKind.HTML.value]
        ledger = CrawlLedger(
            self.database, run_id, jobs, self.settings.crawl.removed_after_missing, writer=self.writer
        )
        ledgers = [ledger]
        try:
            tasks = self._start_crawlers(run_id, jobs, ledger, host_shares)
            if frontier is not None:
                frontier_ledger, crawler, frontier_jobs = frontier
                ledgers.append(frontier_ledger)
                tasks.append(self._start(run_id, crawler, frontier_ledger, jobs=frontier_jobs))
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self.crawlers.pop(run_id, None)
            for each in ledgers:
                # A spider that never started leaves its sources open: they are recorded as they stand.
                await each.close(each.states, aborted=run_id in self.cancelled)

    def _join_frontier(
        self, run_id: int, jobs: list[SourceJob]
    ) -> tuple[CrawlLedger, Crawler, list[SourceJob]] | None:
        """This process's ledger and crawler in frontier run ``run_id`` and the frontier sources it starts;
        None when the run has no frontier (no HTML list sources)."""
        # The optional frontier extra: imported only when the setting is on.
        from crawlers.frontier.client import connect
        from crawlers.frontier.join import join_frontier

        if self.frontier_client is None:
            crawl = self.settings.crawl
            self.frontier_client = connect(crawl.frontier_url, crawl.frontier_timeout_s)
        frontier_jobs = [job for job in jobs if job.kind == SourceKind.HTML.value]
        joined = join_frontier(
            self.settings, self.frontier_client, self.database, self.writer, run_id, frontier_jobs
        )
        return None if joined is None else (*joined, frontier_jobs)

    def _start_crawlers(
        self, run_id: int, jobs: list[SourceJob], ledger: CrawlLedger, host_shares: dict[str, int]
    ) -> list[asyncio.Future[None]]:
        feed_jobs = [job for job in jobs if job.kind in FEED_KINDS]
        html_jobs = [job for job in jobs if job.kind not in FEED_KINDS]
        fast = self.settings.crawl.fast_feeds
        self.crawlers[run_id] = []
        tasks: list[asyncio.Future[None]] = []
        spiders = (
            [(HtmlListSpider, html_jobs)] if fast else [(FeedSpider, feed_jobs), (HtmlListSpider, html_jobs)]
        )
        for spider_class, spider_jobs in spiders:
            if spider_jobs:
                tasks.append(self._crawl(run_id, spider_class, ledger, host_shares, jobs=spider_jobs))
        if fast and feed_jobs:
            tasks.append(asyncio.ensure_future(self._fast_feeds(run_id, feed_jobs, ledger, host_shares)))
        return tasks

    def _crawl(
        self,
        run_id: int,
        spider_class: type[SourceSpider],
        ledger: CrawlLedger,
        host_shares: dict[str, int],
        **arguments: Any,
    ) -> asyncio.Future[None]:
        """Start one Scrapy crawler of run ``run_id`` (stopped by ``cancel``)."""
        # At the spider's priority: Scrapy 2.19's CrawlerProcess.crawl(crawler) updates the crawler's
        # settings with the process's own, which would drop the budgets of hosts this process shares
        # (DOWNLOAD_SLOTS, crawlers/partition.py; tests/test_per_host_limits.py).
        values = ScrapySettings(scrapy_settings(self.settings, host_shares), priority="spider")
        crawler = Crawler(spider_class, values)
        return self._start(run_id, crawler, ledger, **arguments)

    def _start(
        self, run_id: int, crawler: Crawler, ledger: CrawlLedger, **arguments: Any
    ) -> asyncio.Future[None]:
        self.crawlers.setdefault(run_id, []).append(crawler)
        return self.process.crawl(
            crawler,
            ledger=ledger,
            crawl_settings=self.settings.crawl,
            zone=self.settings.timezone,
            bridge=self.settings.bridge,
            **arguments,
        )

    async def _fast_feeds(
        self, run_id: int, jobs: list[SourceJob], ledger: CrawlLedger, host_shares: dict[str, int]
    ) -> None:
        """Poll the run's feed sources on the fast path, then let Scrapy fetch their teasers' full text."""
        if run_id in self.cancelled:  # cancelled before it started
            for job in jobs:
                ledger.fail(job.id, ABORTED)
            return
        if self.feed_client is None:
            self.feed_client = FeedClient.open(FetchConfig.from_settings(self.settings.crawl))

        def start_full_text(handoffs: HandOffQueue) -> asyncio.Future[None] | None:
            # Sources handed off stay open in the ledger until their article pages are done; a cancelled
            # run records them as aborted instead.
            if run_id in self.cancelled:
                return None
            return self._crawl(
                run_id, FullTextSpider, ledger, host_shares, handoffs=handoffs, politeness=feed_run.politeness
            )

        handoffs = HandOffQueue(start_full_text)
        feed_run = FeedRun(self.feed_client, ledger, self.settings, handoffs.put, host_shares)
        self.feed_runs[run_id] = feed_run
        try:
            await feed_run.run(jobs)
        finally:
            self.feed_runs.pop(run_id, None)
            await handoffs.finish()

    async def cancel(self, run_id: int) -> None:
        """Stop run ``run_id`` here: sources still in flight are recorded as aborted."""
        self.cancelled.add(run_id)
        feed_run = self.feed_runs.get(run_id)
        if feed_run is not None:
            feed_run.cancel()
        crawlers = self.crawlers.get(run_id, [])
        if crawlers:
            await asyncio.gather(*(crawler.stop_async() for crawler in crawlers), return_exceptions=True)

    async def shutdown(self) -> None:
        """Stop every crawl (their outcomes are written), then the reactor."""
        from twisted.internet import reactor

        for run_id in list(self.crawlers):
            await self.cancel(run_id)
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.feed_client is not None:
            await self.feed_client.close()
        with contextlib.suppress(ReactorNotRunning):  # a signal may have stopped it already
            reactor.stop()  # type: ignore[misc]

    # --- life -----------------------------------------------------------------------------------
    def serve(self) -> None:
        """Run the reactor until stdin ends or a signal stops the process."""
        from twisted.internet import reactor

        reader = threading.Thread(target=self._read_stdin, name="xinlian-jobs", daemon=True)
        reactor.callWhenRunning(reader.start)
        reactor.callWhenRunning(lambda: self.reply({"ready": os.getpid()}))
        try:
            # SIGTERM/SIGINT: Scrapy stops the crawls gracefully (outcomes written), then the reactor.
            self.process.start(stop_after_crawl=False, install_signal_handlers=True)
        finally:
            self.writer.shutdown(wait=True)
            self.database.dispose()


def stdin_lines(fd: int = 0) -> Iterator[bytes]:
    """Non-empty lines from ``fd`` until its end.

    Read with os.read, not through sys.stdin: a daemon thread blocked on the buffered stdin makes the
    interpreter abort at exit ("could not acquire lock ... at interpreter shutdown").
    """
    pending = b""
    while chunk := os.read(fd, 65536):
        *lines, pending = (pending + chunk).split(b"\n")
        yield from (line for line in lines if line.strip())
    if pending.strip():
        yield pending


def read_settings(messages: Iterator[bytes]) -> Settings:
    """The pool's settings, the first message on stdin."""
    line = next(messages, None)
    if line is None:
        raise SystemExit("no settings on stdin")
    # model_validate reads only the given values: no environment, no TOML file in the worker.
    return Settings.model_validate(json.loads(line)["settings"])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the crawl worker process."""
    parser = argparse.ArgumentParser(prog="python -m crawlers.process")
    parser.add_argument("--reply-fd", type=int, required=True, help="descriptor the pool reads replies from")
    args = parser.parse_args(argv)
    messages = stdin_lines()
    settings = read_settings(messages)
    # Text tables every ingest needs, built before the process says it is ready: built inside the first
    # batch, on the writer thread, they held the GIL ~0.25 s while the reactor thread had requests to send
    # (a Crawl-delay of 0.5 s measured as 0.39 s at the site, tests/test_fetching.py).
    nfkc.prepare()
    fingerprint.prepare()
    CrawlServer(settings, args.reply_fd, messages).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
