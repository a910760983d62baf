"""Politeness of the fast feed path: robots.txt and its Crawl-delay, per-host concurrency and delay.

What Scrapy's download slots, its RobotsTxtMiddleware and crawlers/middlewares/crawldelay.py do on the
Scrapy path, for one run in one crawl process:
- a host (its name, Scrapy's slot key) has at most ``crawl.concurrent_per_host`` requests in flight and
  starts them ``crawl.download_delay_s`` apart; a host whose sources are spread over k crawl processes
  (crawlers/partition.py) gets 1/k of that concurrency and k times the delay in each;
- robots.txt is read once per origin per run (Scrapy reads it once per crawler, and a crawler lives for
  one run) and read by the parser Scrapy uses (Protego); a URL it forbids is not fetched, and a
  robots.txt that cannot be fetched allows everything;
- its Crawl-delay, cut to ``crawl.max_crawl_delay_s`` and multiplied by the host's share, raises the
  host's delay (never lowers it), the request right after robots.txt included;
- at most ``crawl.concurrent_requests`` requests in flight in all.
Delays are kept exactly (Scrapy spreads DOWNLOAD_DELAY randomly from 0.5 to 1.5 times): never shorter
than asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from scrapy.robotstxt import ProtegoRobotParser

from hub.settings import CrawlSettings

logger = logging.getLogger(__name__)

# robots.txt URL -> its body (whatever the status, as Scrapy reads it), or None when it could not be fetched.
RobotsLoader = Callable[[str], Awaitable[bytes | None]]


@dataclass(frozen=True, slots=True)
class PolitenessConfig:
    """The [crawl] settings politeness uses."""

    user_agent: str
    obey_robots: bool = True
    concurrency: int = 32
    per_host: int = 4
    delay_s: float = 0.0
    max_crawl_delay_s: float = 30.0

    @classmethod
    def from_settings(cls, crawl: CrawlSettings) -> PolitenessConfig:
        """Politeness of ``crawl``."""
        return cls(
            user_agent=crawl.user_agent,
            obey_robots=crawl.obey_robots_txt,
            concurrency=crawl.concurrent_requests,
            per_host=crawl.concurrent_per_host,
            delay_s=crawl.download_delay_s,
            max_crawl_delay_s=crawl.max_crawl_delay_s,
        )


class HostSlot:
    """One host: at most ``concurrency`` requests in flight, started at least ``delay_s`` apart."""

    def __init__(self, concurrency: int, delay_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.delay_s = delay_s
        self._free = asyncio.Semaphore(max(1, concurrency))
        self._clock = clock
        self._last_start: float | None = None
        self._next_start = 0.0

    def slow_down(self, delay_s: float) -> None:
        """Raise the delay (robots.txt Crawl-delay); it applies from the last request started."""
        if delay_s <= self.delay_s:
            return
        self.delay_s = delay_s
        if self._last_start is not None:
            self._next_start = max(self._next_start, self._last_start + delay_s)

    async def acquire(self) -> None:
        """Wait for a free place and for the host's next start time; ``release`` when the request is done."""
        await self._free.acquire()
        try:
            # The start time is reserved before sleeping: requests queued on the host get successive times.
            now = self._clock()
            start = max(now, self._next_start)
            self._last_start, self._next_start = start, start + self.delay_s
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            self._free.release()
            raise

    def release(self) -> None:
        """One request to the host is done."""
        self._free.release()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Held while one request to the host is in flight."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()


class Politeness:
    """Host slots and robots.txt rules of one run (the ``Gate`` of crawlers/fastfeed/fetch.py)."""

    def __init__(
        self,
        config: PolitenessConfig,
        load_robots: RobotsLoader,
        host_shares: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.load_robots = load_robots
        self.shares = {host: k for host, k in (host_shares or {}).items() if k > 1}
        self._clock = clock
        self._slots: dict[str, HostSlot] = {}
        self._robots: dict[str, asyncio.Task[ProtegoRobotParser | None]] = {}
        self._overall = asyncio.Semaphore(max(1, config.concurrency))

    def slot_of(self, url: str) -> HostSlot:
        """The slot of ``url``'s host."""
        return self.slot(_host(url))

    def slot(self, host: str) -> HostSlot:
        """The slot of ``host`` (a host name, lower case), made on first use."""
        slot = self._slots.get(host)
        if slot is None:
            share = self.shares.get(host, 1)
            slot = HostSlot(max(1, self.config.per_host // share), self.config.delay_s * share, self._clock)
            self._slots[host] = slot
        return slot

    @asynccontextmanager
    async def turn(self, url: str) -> AsyncIterator[None]:
        """Held while one request to ``url`` is in flight: the host's turn first, then an overall one."""
        async with self.slot(_host(url)).turn(), self._overall:
            yield

    async def allows(self, url: str) -> bool:
        """False when the robots.txt of ``url``'s origin forbids it to our user agent."""
        if not self.config.obey_robots:
            return True
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        task = self._robots.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._read_robots(origin, _host(url)))
            self._robots[origin] = task
        # Awaited without a shield (one per waiting source cost ~40 us each): sources are only ever
        # cancelled all together, with their run, so one waiter cannot cancel the read for the others.
        rules = task.result() if task.done() else await task
        return rules is None or rules.allowed(url, self.config.user_agent)

    async def _read_robots(self, origin: str, host: str) -> ProtegoRobotParser | None:
        body = await self.load_robots(f"{origin}/robots.txt")
        if body is None:
            return None
        rules = ProtegoRobotParser(body, None)
        delay = rules.crawl_delay(self.config.user_agent)
        if delay and delay > 0:
            self.slot(host).slow_down(min(delay, self.config.max_crawl_delay_s) * self.shares.get(host, 1))
        return rules

    async def close(self) -> None:
        """Stop robots.txt reads still running (a cancelled run)."""
        for task in self._robots.values():
            task.cancel()
        await asyncio.gather(*self._robots.values(), return_exceptions=True)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
