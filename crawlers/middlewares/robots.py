"""Scrapy's robots.txt middleware, with every request to a host waiting for that host's rules.

Scrapy 2.19's ``RobotsTxtMiddleware.robot_parser`` awaits the host's pending robots.txt Deferred with
``maybe_deferred_to_future``; Twisted's ``Deferred.asFuture`` callback returns None, so of the requests
waiting for one robots.txt only the first gets the rules and every other gets None, which Scrapy reads as
"no robots.txt: allowed". A site's list page started together with two others on its host was fetched
although its robots.txt disallowed it (found by tests/test_fault_crawl.py). Here each waiter hangs a
Deferred of its own on the pending one and passes the rules on to the next.
"""

from __future__ import annotations

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Request
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """RobotsTxtMiddleware whose concurrent requests to one host all get the host's parsed rules."""

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """The host's rules, fetching robots.txt once; None when it could not be read (all allowed)."""
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        mine: Deferred[RobotParser | None] = Deferred()

        def relay(rules: RobotParser | None) -> RobotParser | None:
            mine.callback(rules)
            return rules  # the chain keeps the rules for the next waiter

        pending.addCallback(relay)
        return await maybe_deferred_to_future(mine)
