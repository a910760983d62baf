"""The frontier's Scrapy scheduler: scrapy-redis's scheduler on the run's queue, plus what a run needs.

scrapy-redis 0.9.1 (works with Scrapy 2.19: it serializes with ``Request.to_dict`` and
``request_from_dict``, both current APIs) keeps the queue: requests pickled into one Redis list per run,
popped by whichever process has room. Ours adds:

- a request's source job is adopted by the ledger when it arrives (crawlers/frontier/ledger.py);
- retries and redirect hops stay in the process that fetched the first attempt: they continue a request
  it already holds, and the source URL's redirect chain is recorded in one place;
- the spider stays open while the run has sources without an outcome, even with the queue empty for a
  moment (another process may still add article pages), and leaves once every source is settled, or
  once nothing has finished anywhere for ``crawl.frontier_stall_s`` (a process died holding requests);
- Scrapy looks at its scheduler every 5 s when idle; a frontier crawler looks every ``POLL_S``, since
  work arrives from other processes without waking it;
- Redis failing (gone, restarting) makes the process leave the run, as the ledger does
  (crawlers/frontier/ledger.py): nothing more is taken or queued, and the spider closes once the requests
  in hand are done, instead of Scrapy's engine raising on every poll with the spider never closing.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.utils.misc import load_object
from scrapy_redis.scheduler import Scheduler

logger = logging.getLogger(__name__)

POLL_S = 0.1


class FrontierScheduler(Scheduler):
    """scrapy-redis's scheduler for one frontier run (keys and run record from the crawler's settings)."""

    crawler: Crawler
    spider: Any  # our SourceSpider on a FrontierLedger
    df: Any  # scrapy-redis's RFPDupeFilter (our requests are dont_filter: deduplicated per source instead)
    queue: Any  # scrapy-redis's FifoQueue on the run's key
    run_key: str
    stall_s: float
    local: deque[Request]  # retries and redirect hops of requests this process holds
    progress: tuple[int, float]  # the run's progress count when last seen to move, and when
    prefetch: int  # requests popped but waiting for a host slot, at most
    left: bool  # the run stalled and this process left it

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierScheduler:
        scheduler: FrontierScheduler = super().from_crawler(crawler)
        scheduler.crawler = crawler
        # scrapy-redis passes ``spider=`` to the stats collector, deprecated in Scrapy 2.19: a warning per
        # request. Our crawlers keep no Scrapy stats (DummyStatsCollector), so it is not called at all.
        scheduler.stats = None
        scheduler.run_key = crawler.settings["XINLIAN_FRONTIER_RUN_KEY"]
        scheduler.stall_s = crawler.settings.getfloat("XINLIAN_FRONTIER_STALL_S")
        scheduler.local = deque()
        scheduler.progress = (-1, time.monotonic())
        scheduler.prefetch = max(1, crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
        scheduler.left = False
        engine: Any = crawler.engine
        # Private to Scrapy's engine (read when the spider opens, after the scheduler is built): without
        # it an idle process would see another's new requests only every 5 s.
        if hasattr(engine, "_SLOT_HEARTBEAT_INTERVAL"):
            engine._SLOT_HEARTBEAT_INTERVAL = POLL_S
        else:
            logger.warning("Scrapy's engine has no heartbeat interval to shorten; idle polls every 5 s")
        return scheduler

    def open(self, spider: Spider) -> None:
        """scrapy-redis's ``open`` without its "Resuming crawl" line: through ``Spider.log``, deprecated in
        Scrapy 2.19 (a warning whenever another process queued requests first, the normal case here)."""
        self.spider = spider
        self.queue = load_object(self.queue_cls)(
            server=self.server, spider=spider, key=self.queue_key, serializer=self.serializer
        )
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)

    def enqueue_request(self, request: Request) -> bool:
        if self.spider.ledger.lost is not None:
            return False  # dropped: no process could be told it is in flight
        if "retry_times" in request.meta or "redirect_urls" in request.meta:
            self.local.append(request)
            return True
        enqueue = super().enqueue_request
        return bool(self.spider.ledger.ask(lambda: enqueue(request), False))

    def next_request(self) -> Request | None:
        if self.spider.ledger.lost is not None:
            return None
        if self.local:
            request: Request = self.local.popleft()
            return request
        if self._backed_up():
            return None
        request = self.spider.ledger.ask(super().next_request, None)
        if request is not None:
            self.spider.ledger.adopt(request.cb_kwargs["job"])
        return request

    def _backed_up(self) -> bool:
        """Requests taken from the queue wait here for a host's politeness: take no more for now.

        Scrapy would pop up to CONCURRENT_REQUESTS at once and park them in the host's slot; from the shared
        queue that starves the other processes, and a process that dies loses everything it parked.
        Waiting is everything in the downloader not being transferred: in a slot's queue, and in the
        downloader middlewares, where a host's first requests wait for its robots.txt (counting the
        slots' queues alone, one process took a whole run's list pages while its robots.txt was fetched,
        and a process joining a moment later found the queue empty).
        """
        downloader: Any = self.crawler.engine.downloader
        transferring = sum(len(slot.transferring) for slot in downloader.slots.values())
        return len(downloader.active) - transferring >= self.prefetch

    def has_pending_requests(self) -> bool:
        """True while requests wait here or in the queue, or the run has sources in flight elsewhere."""
        if self.spider.ledger.lost is not None:
            return False
        if self.local:
            return True
        return self.spider.ledger.ask(lambda: bool(len(self.queue)) or not self._run_over(), False)

    def _run_over(self) -> bool:
        fields = self.server.hmget(self.run_key, ["open", "progress"])
        if fields[0] is None or int(fields[0]) <= 0:
            return True
        progress = int(fields[1] or 0)
        now = time.monotonic()
        if progress != self.progress[0]:
            self.progress = (progress, now)
            return False
        if now - self.progress[1] < self.stall_s:
            return False
        if self.left:
            return True
        self.left = True
        logger.warning(
            "frontier %s: %s sources still open but nothing finished for %.0f s; leaving the run",
            self.run_key,
            fields[0].decode(),
            self.stall_s,
        )
        return True
