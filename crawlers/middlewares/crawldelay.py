"""robots.txt ``Crawl-delay``: Scrapy parses it but does not apply it; this sets it on the host's slot.

Scrapy's robots.txt middleware sends ``robots_parsed`` before it lets the first request of a host
through, so the delay is in place before that request is downloaded. It goes into the downloader's
per-slot settings too, so a slot recreated after idling keeps it. A delay above
``crawl.max_crawl_delay_s`` is cut to it (a hostile robots.txt must not park a source for hours).
A host whose sources are spread over k crawl processes (``XINLIAN_HOST_SHARES``) waits k times the
delay in each, so the host sees one request per Crawl-delay overall.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class CrawlDelayMiddleware:
    """Applies each host's robots.txt Crawl-delay to its download slot (never shortens a delay)."""

    def __init__(self, crawler: Crawler, max_delay_s: float) -> None:
        self.crawler = crawler
        self.max_delay_s = max_delay_s
        self.shares: dict[str, int] = dict(crawler.settings.getdict("XINLIAN_HOST_SHARES"))
        # A frontier crawler shares every host with the run's other processes (crawlers/frontier/settings.py).
        self.default_share = crawler.settings.getint("XINLIAN_DEFAULT_HOST_SHARE", 1)
        self.user_agent = crawler.settings.get("ROBOTSTXT_USER_AGENT") or crawler.settings.get("USER_AGENT")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlDelayMiddleware:
        middleware = cls(crawler, crawler.settings.getfloat("XINLIAN_MAX_CRAWL_DELAY", 30.0))
        crawler.signals.connect(middleware.robots_parsed, signal=signals.robots_parsed)
        return middleware

    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        """Signal handler: set the host's delay from its Crawl-delay line, if any."""
        delay = robotparser.crawl_delay(self.user_agent)
        if not delay or delay <= 0:
            return
        delay = min(float(delay), self.max_delay_s)
        engine = self.crawler.engine
        if engine is None:
            return
        downloader = engine.downloader
        key = downloader.get_slot_key(request)
        delay *= self.shares.get(key, self.default_share)
        slot_settings = downloader.per_slot_settings.setdefault(key, {})
        slot_settings["delay"] = max(float(slot_settings.get("delay", 0.0)), delay)
        slot_settings["jitter"] = 0.0  # jitter could bring a request in under the asked delay
        slot = downloader.slots.get(key)
        if slot is not None:
            slot.delay = max(slot.delay, delay)
            slot.jitter = 0.0
        logger.debug("Crawl-delay %.2fs for %s", delay, key)
