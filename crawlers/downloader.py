"""Scrapy's downloader with its per-host concurrency cap kept (docs/architecture.md step 4).

Scrapy 2.14+ on the asyncio reactor starts each download of a slot's queue as a task and counts the
request as "transferring" only once that task runs. Its queue loop (``while queue and free slots``)
therefore takes the whole queue at once: with ``CONCURRENT_REQUESTS_PER_DOMAIN`` = 1, a list page's
twelve article requests went to the site together (measured: 7-10 in flight at a cap of 1 or 3,
tests/test_per_host_limits.py). Counting a request as transferring when it leaves the queue, as
Scrapy did before, restores the cap; the download's own bookkeeping is unchanged (adding it again is
a no-op, and it is removed when the download ends).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot


class _CountedQueue(deque[Any]):
    """A slot's queue whose dequeued requests count against the slot's concurrency at once."""

    def __init__(self, slot: Slot, waiting: deque[Any]) -> None:
        super().__init__(waiting)
        self.slot = slot

    def popleft(self) -> Any:
        entry = super().popleft()
        request = entry[0]  # (request, deferred)
        if isinstance(request, Request):
            self.slot.transferring.add(request)
        return entry


class CappedDownloader(Downloader):
    """Scrapy's Downloader whose slots never start more downloads than their concurrency."""

    def _get_slot(self, request: Request, *args: Any, **kwargs: Any) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request, *args, **kwargs)
        if not isinstance(slot.queue, _CountedQueue):
            slot.queue = _CountedQueue(slot, slot.queue)
        return key, slot
