"""Full text of teaser-only entries that the fast feed path read: Scrapy fetches their article pages.

The feed spider's own article step (``FeedSpider.parse_full_text``: extraction, the teaser kept when the
page fails or says less, a 404/410 marking a known item removed) runs on the entries the fast path
parsed; their feeds are not fetched again. The fast path hands each source's teasers over as soon as
its feed is read (``HandOffQueue``); the spider is started on the first one and stays open until the
fast path is done with the run. Each article request holds a place of the fast path's slot for its
host from before it enters Scrapy until its callback or errback runs, so a host sees at most its
concurrency from both paths together, and the Crawl-delay or download delay holds between the feed
request and the first article request too (Scrapy's own slot then spaces the article requests again).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from scrapy.http import Response
from twisted.python.failure import Failure

from crawlers.fastfeed.politeness import HostSlot, Politeness
from crawlers.fastfeed.worker import HandOff
from crawlers.ledger import SourceJob
from crawlers.spiders.feed import FeedSpider

_TURN = "fastfeed_turn"  # request meta key: the host place the request holds


class HostTurn:
    """A place held in a host slot, released once (redirects and retries share the request's meta)."""

    def __init__(self, slot: HostSlot) -> None:
        self._slot: HostSlot | None = slot

    def release(self) -> None:
        """Give the place back (only the first call counts)."""
        if self._slot is not None:
            self._slot.release()
            self._slot = None


class HandOffQueue:
    """One run's teaser hand-offs, from the fast path to the full-text spider (started on the first)."""

    def __init__(self, start_spider: Callable[[HandOffQueue], Awaitable[None] | None]) -> None:
        self._queue: asyncio.Queue[HandOff | None] = asyncio.Queue()
        self._start_spider = start_spider
        self._crawl: Awaitable[None] | None = None
        self._started = False

    def put(self, handoff: HandOff) -> None:
        """Hand one source's teasers over."""
        self._queue.put_nowait(handoff)
        if not self._started:
            self._started = True
            self._crawl = self._start_spider(self)

    async def get(self) -> HandOff | None:
        """The next hand-off; None once the fast path is done."""
        return await self._queue.get()

    async def finish(self) -> None:
        """No more hand-offs: wait for the spider (if one started) to finish."""
        self._queue.put_nowait(None)
        if self._crawl is not None:
            await self._crawl


class FullTextSpider(FeedSpider):
    """Fetches the article page of each handed-off teaser; each source's outcome follows as usual."""

    name = "xinlian-fulltext"

    def __init__(self, handoffs: HandOffQueue, politeness: Politeness, **kwargs: Any) -> None:
        super().__init__(jobs=[], **kwargs)
        self.handoffs = handoffs
        self.politeness = politeness
        self._scheduling: set[asyncio.Task[None]] = set()

    async def start(self) -> AsyncIterator[Any]:
        """Open until the fast path is done; each hand-off is scheduled by a task of its own, so a busy
        host never holds up another's articles."""
        while (handoff := await self.handoffs.get()) is not None:
            self.jobs.append(handoff.job)  # the pipeline closes these sources' outcomes with the spider
            task = asyncio.ensure_future(self._schedule(handoff))
            self._scheduling.add(task)
            task.add_done_callback(self._scheduling.discard)
        while self._scheduling:
            await asyncio.gather(*self._scheduling, return_exceptions=True)
        return
        yield  # an async generator: the requests enter through the engine, not from here

    async def _schedule(self, handoff: HandOff) -> None:
        assert self.crawler.engine is not None
        job = handoff.job
        for teaser in handoff.teasers:
            slot = self.politeness.slot_of(teaser.url)
            await slot.acquire()
            request = self.source_request(job, teaser.url, "parse_full_text", teaser=teaser)
            request.meta["fallback_item"] = teaser
            request.meta[_TURN] = HostTurn(slot)
            self.crawler.engine.crawl(request)
        self.ledger.end(job.id)  # the fast path's hold on the source: its requests are counted now

    def _dispatch(self, response: Response, job: SourceJob, **kwargs: Any) -> Iterator[Any]:
        _release(response.meta)
        yield from super()._dispatch(response, job, **kwargs)

    def _on_error(self, failure: Failure) -> Iterator[Any]:
        _release(failure.request.meta)  # type: ignore[attr-defined]
        yield from super()._on_error(failure)

    def closed(self, reason: str) -> None:
        """Scrapy's hook when the spider closes: hand-offs not scheduled yet are dropped (aborted)."""
        for task in self._scheduling:
            task.cancel()


def _release(meta: dict[str, Any]) -> None:
    turn = meta.get(_TURN)
    if isinstance(turn, HostTurn):
        turn.release()
