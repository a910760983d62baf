"""The crawl's SSRF guard (crawlers/safety.py) for the aiohttp client of the homepage probe.

Two checks, like the crawl's: a literal IP host (any spelling) is refused before the request, and a
host name is refused at connect time by the resolver aiohttp connects with, which sees the very
addresses the connection will use (no DNS-rebinding gap between a check and the connection).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from crawlers.safety import HostPolicy, parse_ip_literal


class GuardRefused(OSError):
    """The host is (or resolves to) a private address and is not allow-listed.

    An OSError, so aiohttp's connector passes it on (wrapped in ClientConnectorDNSError).
    """


def refusal_before_connect(policy: HostPolicy, url: str) -> str | None:
    """Why ``url`` may not be requested at all (a private literal IP host), or None."""
    host = (urlsplit(url).hostname or "").lower()
    if policy.allowed_name(host):
        return None
    literal = parse_ip_literal(host)
    if literal is None:
        return None  # a name: the resolver checks its answer at connect time
    return policy.refusal(host, [str(literal)])


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver that refuses answers with a private address for a host not allow-listed."""

    def __init__(self, policy: HostPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of ``host``; GuardRefused when one of them is private and ``host`` is not allowed."""
        answers = await self.inner.resolve(host, port, family)
        reason = self.policy.refusal(host, [answer["host"] for answer in answers])
        if reason is not None:
            raise GuardRefused(reason)
        return answers

    async def close(self) -> None:
        await self.inner.close()
