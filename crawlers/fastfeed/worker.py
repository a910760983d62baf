"""One run's feed and account sources on the fast path (docs/architecture.md step 4).

Each source reads top to bottom, as the feed spider does: bridge route → conditional GET
(If-None-Match / If-Modified-Since from the source's last answer) → 304, or a 2xx whose bytes are those
parsed last time (crawlers/bodyhash.py): nothing to parse; 429: the source waits for its Retry-After;
another failure: its classified kind → 2xx: ``parse_feed``, the
WebSub hub it advertises noted, its listing reported, its items stored by the ledger's batch ingest,
its teaser-only entries handed to Scrapy for their article pages (crawlers/fastfeed/fulltext.py). The
crawl ledger (crawlers/ledger.py) writes each source's outcome exactly as for the spiders.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import partial
from urllib.parse import urlsplit

from crawlers.bridge import redact, retry_after_seconds, route_url
from crawlers.errors import MAX_RETRY_AFTER_S, FailureInfo
from crawlers.fastfeed.fetch import Answer, FeedClient, FetchFailed
from crawlers.fastfeed.politeness import Politeness, PolitenessConfig
from crawlers.feeds import FeedParseError, parse_feed, source_full_text_mode, wants_full_text
from crawlers.ledger import CrawlLedger, SourceJob
from crawlers.websub import advertised_hub
from hub.models import SourceKind
from hub.rawitem import RawItem
from hub.settings import Settings
from hub.websub import note_hub

logger = logging.getLogger(__name__)

ABORTED = FailureInfo("aborted", None, "the crawl was stopped before this source finished")


@dataclass(slots=True)
class HandOff:
    """Teaser-only entries of one source, whose article pages Scrapy fetches for the full text."""

    job: SourceJob
    teasers: list[RawItem]


def conditional_headers(job: SourceJob) -> dict[str, str]:
    """The validators of the source's last answer, as a conditional request's headers."""
    headers: dict[str, str] = {}
    if job.etag:
        headers["If-None-Match"] = job.etag
    if job.last_modified:
        headers["If-Modified-Since"] = job.last_modified
    return headers


def rate_limited(retry_after: str | None) -> FailureInfo:
    """A 429 of the source's own URL: it (one bridge route, not the whole host) waits for its Retry-After."""
    wait = retry_after_seconds(retry_after)
    message = "HTTP 429 too many requests" + (f"; retry after {wait:.0f} s" if wait is not None else "")
    return FailureInfo("rate_limited", 429, message, retry_after_s=wait)


def status_failure(status: int, retry_after: str | None) -> FailureInfo:
    """Any other status outside 2xx, classified as crawlers/errors.py classifies Scrapy's HttpError."""
    wait = retry_after_seconds(retry_after)
    if status == 429 or (status == 503 and wait is not None):
        wait = min(wait, MAX_RETRY_AFTER_S) if wait is not None else None
        return FailureInfo("rate_limited", status, f"HTTP {status}, Retry-After {wait}", wait)
    return FailureInfo("http_5xx" if status >= 500 else "http_4xx", status, f"HTTP {status}")


LIVE_POLLS_MIN = 256
LIVE_POLLS_PER_SLOT = 8  # per crawl.concurrent_requests: polls waiting on politeness keep slots fed


def by_host_in_turn(jobs: list[SourceJob]) -> Iterator[SourceJob]:
    """``jobs`` with their hosts taken in turn (round robin), each host's jobs in their order."""
    queues: dict[str, deque[SourceJob]] = defaultdict(deque)
    for job in jobs:
        queues[(urlsplit(job.url).hostname or "").lower()].append(job)
    while queues:
        for host in list(queues):
            queue = queues[host]
            yield queue.popleft()
            if not queue:
                del queues[host]


class FeedRun:
    """Polls one run's feed sources through ``client``; outcomes and items go to ``ledger``."""

    def __init__(
        self,
        client: FeedClient,
        ledger: CrawlLedger,
        settings: Settings,
        hand_off: Callable[[HandOff], None],
        host_shares: Mapping[str, int] | None = None,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.crawl = settings.crawl
        self.zone = settings.timezone
        self.bridge = settings.bridge
        self.hand_off = hand_off  # teasers go to Scrapy for their full text (crawlers/fastfeed/fulltext.py)
        self.politeness = Politeness(PolitenessConfig.from_settings(self.crawl), self._robots, host_shares)
        # Sources polled at once: enough to keep every request slot busy while others wait on their host.
        self.window = max(LIVE_POLLS_MIN, LIVE_POLLS_PER_SLOT * self.crawl.concurrent_requests)
        self._live: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def run(self, jobs: list[SourceJob]) -> None:
        """Poll every job, at most ``window`` at a time, hosts taken in turn.

        A task per source at once (5,000 sources a process at 10,000) held every coroutine, its state
        and buffers for the whole run, most of them only waiting for a request slot: the window keeps
        the crawl process's memory flat (issue 7's worker memory floor). Taking hosts in turn keeps
        one slow host from filling the window."""
        try:
            for job in by_host_in_turn(jobs):
                if self._stopped:
                    break
                while len(self._live) >= self.window:
                    done, _ = await asyncio.wait(self._live, return_when=asyncio.FIRST_COMPLETED)
                    self._settle(done)
                task = asyncio.ensure_future(self.poll(job))
                self._live.add(task)
            while self._live:
                done, _ = await asyncio.wait(self._live, return_when=asyncio.FIRST_COMPLETED)
                self._settle(done)
        finally:
            await self.politeness.close()

    def _settle(self, done: set[asyncio.Task[None]]) -> None:
        self._live -= done
        for task in done:
            task.result()  # poll() records its own failures; only a cancellation comes out here

    def cancel(self) -> None:
        """Stop the run: sources still in flight are recorded as aborted, the rest are not started
        (the runner records every source of the run without an outcome as aborted)."""
        self._stopped = True
        for task in self._live:
            task.cancel()

    async def poll(self, job: SourceJob) -> None:
        """One source, from its conditional GET to its items handed to the ledger."""
        self.ledger.begin(job.id)
        try:
            await self._poll(job)
        except asyncio.CancelledError:
            self.ledger.fail(job.id, ABORTED)
            raise
        except Exception as exc:
            # A bug must not make the source look healthy: recorded as the spiders record it, and logged.
            logger.exception("fast feed poll of source %d failed", job.id)
            self._report(job, FailureInfo("error", None, repr(exc)))
        finally:
            self.ledger.end(job.id)

    async def _poll(self, job: SourceJob) -> None:
        try:
            url = route_url(job.url, self.bridge)
        except ValueError as exc:  # no bridge configured, unknown platform
            self.ledger.fail(job.id, FailureInfo("error", None, str(exc)))
            return
        stats = self.ledger.states[job.id].fetch
        try:
            answer = await self.client.get(
                url, self.politeness, conditional_headers(job), stats, primary=True
            )
        except FetchFailed as failed:
            self._report(job, failed.info)
            return
        status = answer.status
        if status in (304, 429) or 200 <= status < 300:
            self.ledger.responded(
                job.id,
                status,
                answer.header("ETag"),
                answer.header("Last-Modified"),
                cache_control=answer.header("Cache-Control"),
            )
        if status == 304:
            return
        if status == 429:
            self._report(job, rate_limited(answer.header("Retry-After")))
        elif not 200 <= status < 300:
            self._report(job, status_failure(status, answer.header("Retry-After")))
        elif not self.ledger.same_body(job.id, answer.body):  # the same bytes: recorded as a 304 is
            await self._read_feed(job, answer)

    async def _read_feed(self, job: SourceJob, answer: Answer) -> None:
        try:
            mode = source_full_text_mode(job.selectors, account=job.kind == SourceKind.ACCOUNT.value)
        except ValueError as exc:  # the registry and the staff form refuse it; a store edited by hand
            self._report(job, FailureInfo("error", None, str(exc)))
            return
        try:
            feed = parse_feed(answer.body, job.id, answer.url, answer.header("Content-Type"), zone=self.zone)
        except FeedParseError as exc:
            self._report(job, FailureInfo(exc.kind, answer.status, str(exc)))
            return
        hub = advertised_hub(feed, answer.headers.getall("Link", []), answer.url)
        if hub is not None:  # crawlers/websub.py: the worker subscribes to it
            self.ledger.submit(partial(note_hub, source_id=job.id, hub_url=hub.hub_url, topic=hub.topic))
        self.ledger.listed(job.id, (entry.item.url for entry in feed.entries))
        self.ledger.feed_ttl(job.id, feed.ttl)
        items: list[RawItem] = []
        teasers: list[RawItem] = []
        for entry in feed.entries[: self.crawl.max_items_per_source]:
            if not self.ledger.claim_url(job.id, entry.item.url):
                continue
            (teasers if wants_full_text(entry, mode) else items).append(entry.item)
        if teasers:
            self.ledger.begin(job.id)  # held until Scrapy has taken the article requests (fulltext.py)
            self.hand_off(HandOff(job, teasers))
        for _ in items:
            self.ledger.item_found(job.id)
        if items:
            await self._store(items)

    async def _store(self, items: list[RawItem]) -> None:
        try:
            await self.ledger.ingest_many(items)  # batched with every item waiting (one writer thread)
        finally:
            for item in items:
                self.ledger.end(item.source_id)

    async def _robots(self, url: str) -> bytes | None:
        try:
            answer = await self.client.get(url, self.politeness, robots=False)
        except FetchFailed as failed:
            logger.debug("robots.txt %s not read (everything allowed): %s", url, failed.info.message)
            return None
        return answer.body

    def _report(self, job: SourceJob, info: FailureInfo) -> None:
        # Bridge URLs carry the access key: it must not reach outcome messages.
        self.ledger.fail(job.id, replace(info, message=redact(info.message, self.bridge)))
