"""Per-source fetch accounting: requests, bytes, status codes, redirect hops, failures by kind.

Sits next to the downloader (priority 950), so it sees every attempt — retries and redirect hops
included — and bytes as they came over the wire (before decompression). Counts land on the source's
``FetchStats`` in the crawl ledger, which writes them on the source's outcome (hub/fetchstats.py).
robots.txt requests belong to no source and are not counted.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawlers.errors import classify_exception
from crawlers.redirects import redirect_url
from hub.fetchstats import FetchStats

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})


def status_kind(status: int) -> str | None:
    """The failure kind of an HTTP status, or None for a success, a redirect or a 304."""
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "http_5xx"
    if status >= 400:
        return "http_4xx"
    return None


class FetchStatsMiddleware:
    """Counts each request of a source on its ledger entry."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.moved_after = crawler.settings.getint("XINLIAN_PERMANENT_REDIRECT_AFTER", 3)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FetchStatsMiddleware:
        return cls(crawler)

    def _stats(self, request: Request) -> FetchStats | None:
        source_id = request.meta.get("source_id")
        ledger: Any = getattr(self.crawler.spider, "ledger", None)
        if source_id is None or ledger is None:
            return None
        state = ledger.states.get(source_id)
        return state.fetch if state is not None else None

    def process_request(self, request: Request) -> None:
        """Count the attempt."""
        stats = self._stats(request)
        if stats is not None:
            stats.requests += 1
            stats.moved_after = self.moved_after

    def process_response(self, request: Request, response: Response) -> Response:
        """Count bytes and status; follow the source URL's redirect chain."""
        stats = self._stats(request)
        if stats is None:
            return response
        stats.bytes_received += len(response.body)
        stats.count_status(response.status)
        kind = status_kind(response.status)
        if kind is not None:
            stats.count_failure(kind)
        if not request.meta.get("primary"):
            return response
        location = response.headers.get(b"Location")
        if response.status in REDIRECT_STATUSES and location:
            target = redirect_url(request.url, location.decode("latin-1"))
            stats.add_redirect(response.status, request.url, target)
        elif kind is None:
            # The chain ended on a page: if every hop was permanent, the source has moved there.
            hops = stats.redirects
            permanent = bool(hops) and all(hop["status"] in PERMANENT_STATUSES for hop in hops)
            stats.moved_to = response.url if permanent else None
        return response

    def process_exception(self, request: Request, exception: BaseException) -> None:
        """Count the failure by kind (the download's own, the SSRF guard's, robots.txt's...)."""
        stats = self._stats(request)
        if stats is not None:
            stats.count_failure(classify_exception(exception).kind)
        return None
