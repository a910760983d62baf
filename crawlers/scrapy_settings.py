"""Scrapy settings built from hub.settings.CrawlSettings (the one registry stays the only source).

A host crawled by k processes at once (crawlers/partition.py) gets 1/k of its concurrency and k times
its delay in each of them, so together they stay within the host's budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.settings import Settings


def scrapy_settings(settings: Settings, host_shares: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The Scrapy settings of a crawl process; ``host_shares`` names hosts shared with other processes."""
    crawl = settings.crawl
    shares = {host: k for host, k in (host_shares or {}).items() if k > 1}
    return {
        "USER_AGENT": crawl.user_agent,
        "DOWNLOAD_TIMEOUT": crawl.download_timeout_s,
        "DNS_TIMEOUT": crawl.download_timeout_s,
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": crawl.max_redirects,
        "RETRY_ENABLED": crawl.retry_times > 0,
        "RETRY_TIMES": crawl.retry_times,
        # A source that still fails is its recorded outcome, not an error of ours (crawlers/quietlogs.py).
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
        "CONCURRENT_REQUESTS": crawl.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrent_per_host,
        # Scrapy's own downloader lets a slot's whole queue go at once on asyncio (crawlers/downloader.py).
        "DOWNLOADER": "crawlers.downloader.CappedDownloader",
        "ROBOTSTXT_OBEY": crawl.obey_robots_txt,
        "COOKIES_ENABLED": False,
        # Scrapy would parse each callback's source (inspect + ast) on every response to warn about
        # generators that return values: a few ms per response, and our callbacks are bound methods
        # its cache never keeps. Ruff and the tests watch our callbacks instead.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        # Scrapy starts this many asyncio tasks for every response, even a 304 that yields nothing
        # (100 by default: 25,000 tasks for a re-poll of 250 sources). Items are stored in batches by
        # the ledger's writer thread, so a few in flight per response keep it fed.
        "CONCURRENT_ITEMS": 8,
        # Scrapy's own statistics and the components that only feed them or debug logs cost a little on
        # every request; crawlers/middlewares/stats.py keeps the figures we record.
        "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector",
        "DOWNLOADER_STATS": False,
        "EXTENSIONS": {
            "scrapy.extensions.corestats.CoreStats": None,
            "scrapy.extensions.logcount.LogCount": None,
            "scrapy.extensions.logstats.LogStats": None,
            "scrapy.extensions.memusage.MemoryUsage": None,
        },
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
        },
        "TELNETCONSOLE_ENABLED": False,
        # The crawl process logs through hub/logsetup.py's handler, which masks the configured secrets
        # (crawlers/process.py): Scrapy's own root handler would print the bridge key in its debug lines.
        "LOG_INSTALL_ROOT_HANDLER": False,
        "LOG_LEVEL": "DEBUG" if settings.log_level.upper() == "DEBUG" else "WARNING",
        "DOWNLOAD_DELAY": crawl.download_delay_s,
        "TWISTED_DNS_RESOLVER": "crawlers.middlewares.resolver.GuardedResolver",
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,  # sources carry no credentials
            # Before robots.txt (100) fetches anything.
            "crawlers.middlewares.privatenet.PrivateNetworkMiddleware": 50,
            # Scrapy's robots.txt middleware lets requests that wait for a host's robots.txt through
            # unchecked, all but the first (crawlers/middlewares/robots.py).
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawlers.middlewares.robots.SharedRobotsTxtMiddleware": 100,
            "crawlers.middlewares.crawldelay.CrawlDelayMiddleware": 110,
            "crawlers.middlewares.retryafter.RetryAfterMiddleware": 560,  # sees responses before retry (550)
            "crawlers.middlewares.stats.FetchStatsMiddleware": 950,  # next to the downloader: every hop
        },
        "XINLIAN_MAX_CRAWL_DELAY": crawl.max_crawl_delay_s,
        "XINLIAN_PERMANENT_REDIRECT_AFTER": crawl.permanent_redirect_after,
        "ITEM_PIPELINES": {"crawlers.pipeline.IngestPipeline": 300},
        "XINLIAN_ALLOW_PRIVATE_NETWORKS": crawl.allow_private_networks,
        "XINLIAN_ALLOWED_PRIVATE_HOSTS": list(crawl.allowed_private_hosts),
        "XINLIAN_HOST_SHARES": shares,  # crawldelay.py stretches robots.txt Crawl-delay by the share
        "DOWNLOAD_SLOTS": {
            host: {"concurrency": max(1, crawl.concurrent_per_host // k), "delay": crawl.download_delay_s * k}
            for host, k in shares.items()
        },
    }
