"""Full text of teaser-only entries that the fast feed path read: Scrapy fetches their article pages.

The feed spider's own article step (``FeedSpider.parse_full_text``: extraction, the teaser kept when the
page fails or says less, a 404/410 marking a known item removed) runs on the entries the fast path
parsed; their feeds are not fetched again. The spider starts after the fast path has polled the run's
feeds, so a host never sees both paths' requests at once, and each article request first takes the
fast path's turn on its host: the Crawl-delay and download delay hold between the feed request and the
first article request too. Scrapy's own slot then spaces the article requests as usual.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from crawlers.fastfeed.politeness import Politeness
from crawlers.fastfeed.worker import HandOff
from crawlers.spiders.feed import FeedSpider


class FullTextSpider(FeedSpider):
    """Fetches the article page of each handed-off teaser; each source's outcome follows as usual."""

    name = "xinlian-fulltext"

    def __init__(self, handoffs: list[HandOff], politeness: Politeness | None = None, **kwargs: Any) -> None:
        super().__init__(jobs=[handoff.job for handoff in handoffs], **kwargs)
        self.handoffs = handoffs
        self.politeness = politeness

    async def start(self) -> AsyncIterator[Any]:
        """One article request per teaser; then the fast path's hold on the source is released."""
        for handoff in self.handoffs:
            job = handoff.job
            for teaser in handoff.teasers:
                if self.politeness is not None:
                    async with self.politeness.turn(teaser.url):
                        pass  # the host's next start time is reserved for this request
                request = self.source_request(job, teaser.url, "parse_full_text", teaser=teaser)
                request.meta["fallback_item"] = teaser
                yield request
            self.ledger.end(job.id)
