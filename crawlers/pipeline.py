"""Scrapy item pipeline: RawItems → hub.ingest (docs/architecture.md step 5).

Items are batched onto the ledger's single database thread, so the reactor keeps downloading while
the store writes, and SQLite never sees two writers. Counts of new/updated items land on the
source's state and from there in its crawl outcome.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from crawlers.ledger import CrawlLedger
from hub.rawitem import RawItem


class IngestPipeline:
    """Hands each RawItem to hub.ingest without blocking the reactor."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IngestPipeline:
        return cls(crawler)

    def _ledger(self) -> CrawlLedger:
        ledger: CrawlLedger = self.crawler.spider.ledger  # type: ignore[union-attr]
        return ledger

    async def process_item(self, item: Any) -> Any:
        """Store a RawItem; the source's in-flight count drops once it is stored (or refused)."""
        if not isinstance(item, RawItem):
            return item
        ledger = self._ledger()
        try:
            await ledger.ingest(item)
        finally:
            ledger.end(item.source_id)
        return item

    async def close_spider(self) -> None:
        """Write the outcomes of this spider's sources and wait for the writer to finish them."""
        spider = self.crawler.spider
        # The engine stops running before it closes the spider only when the crawl is being shut down.
        engine = self.crawler.engine
        aborted = engine is not None and not engine.running
        await self._ledger().close((job.id for job in spider.jobs), aborted)  # type: ignore[union-attr]
