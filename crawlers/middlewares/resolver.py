"""Connect-time SSRF check: the resolver Twisted connects with refuses private answers.

``crawlers.safety.PrivateNetworkMiddleware`` resolves a host before the download; Twisted resolves it
again to connect. A DNS server that answers a public address first and 127.0.0.1 second (DNS
rebinding) would slip between the two, so this resolver checks the very address the connection
uses. A refusal here reaches the spider as a failed lookup (error kind ``dns``): Twisted's endpoint
replaces the resolver's error by its own "no results" error, so only the log tells it was a block.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet.base import ReactorBase
from twisted.internet.defer import Deferred

from crawlers.middlewares.privatenet import BlockedPrivateAddress, policy_from_settings
from crawlers.safety import HostPolicy

logger = logging.getLogger(__name__)


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver that fails lookups answering a private address for a non-allowed host."""

    def __init__(self, reactor: ReactorBase, cache_size: int, timeout: float, policy: HostPolicy) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: ReactorBase) -> GuardedResolver:
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), policy_from_settings(settings))

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        """Resolve ``name``; fail with BlockedPrivateAddress when the answer is private and not allowed."""
        result: Deferred[str] = super().getHostByName(name, timeout)
        result.addCallback(self._check, name)
        return result

    def _check(self, address: str, name: str) -> str:
        reason = self.policy.refusal(name, [address])
        if reason is not None:
            logger.warning("connection refused by the SSRF guard: %s", reason)
            raise BlockedPrivateAddress(reason)
        return address
