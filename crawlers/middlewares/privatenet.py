"""The crawl's pre-download SSRF check as a Scrapy downloader middleware (docs/architecture.md step 4).

The rules (HostPolicy, AddressCache) live in crawlers/safety.py without Scrapy, so processes that never
crawl with Scrapy (the worker's scheduler, the web app) do not import it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.settings import BaseSettings

from crawlers.safety import AddressCache, HostPolicy, parse_ip_literal


class BlockedPrivateAddress(IgnoreRequest):
    """The request's host is (or resolves to) a private, loopback or link-local address."""


class PrivateNetworkMiddleware:
    """Raise BlockedPrivateAddress for requests to private hosts that are not allow-listed."""

    def __init__(self, policy: HostPolicy, addresses: AddressCache | None = None) -> None:
        self.policy = policy
        # One crawler's cache: a run's requests to one host cost one lookup.
        self.addresses = addresses or AddressCache()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateNetworkMiddleware:
        return cls(policy_from_settings(crawler.settings))

    async def process_request(self, request: Request) -> None:
        """Refuse the request when its host is private and not allow-listed."""
        parts = urlsplit(request.url)
        host = (parts.hostname or "").lower()
        if self.policy.allowed_name(host):
            return None
        literal = parse_ip_literal(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = await self.addresses.resolve(host, port)
        reason = self.policy.refusal(host, addresses)
        if reason is not None:
            raise BlockedPrivateAddress(reason)
        return None


def policy_from_settings(settings: BaseSettings) -> HostPolicy:
    """The policy from the crawl's Scrapy settings (XINLIAN_ALLOW_PRIVATE_NETWORKS, ..._HOSTS)."""
    return HostPolicy(
        settings.getbool("XINLIAN_ALLOW_PRIVATE_NETWORKS"),
        settings.getlist("XINLIAN_ALLOWED_PRIVATE_HOSTS"),
    )
