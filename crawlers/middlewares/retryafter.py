"""A 429 or a 503 with Retry-After is not retried within the crawl: the source asked to be left alone.

The spider then sees the error response; crawlers.errors classifies it as ``rate_limited`` with the
wait, and hub.crawlrecord pushes the source's next check past it. Runs before Scrapy's retry
middleware sees the response (priority 560 > 550).
"""

from __future__ import annotations

from scrapy import Request
from scrapy.http import Response


class RetryAfterMiddleware:
    """Marks rate-limited responses ``dont_retry``."""

    def process_response(self, request: Request, response: Response) -> Response:
        """Keep Scrapy from retrying a response that asks to wait."""
        if response.status == 429 or (response.status == 503 and response.headers.get(b"Retry-After")):
            request.meta["dont_retry"] = True
        return response
