"""Downloader middleware refusing private, loopback and link-local targets (docs/architecture.md step 4).

Crawled URLs are untrusted: a registry entry or a redirect must not reach the operator's own network.
Hosts listed in ``crawl.allowed_private_hosts`` (the sample network on 127.0.0.1) or
``crawl.allow_private_networks`` lift the ban. Redirects pass through here again, so a public page
redirecting to 127.0.0.1 is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest


class BlockedPrivateAddress(IgnoreRequest):
    """The request's host is (or resolves to) a private, loopback or link-local address."""


def is_private_address(address: str) -> bool:
    """True for loopback, private, link-local, reserved, multicast or unspecified IPs."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


async def _resolve(host: str, port: int) -> list[str]:
    # The event loop resolves in its executor, so the reactor never blocks on DNS.
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []  # the download itself will fail and be classified as "dns"
    return [str(info[4][0]) for info in infos]


class PrivateNetworkMiddleware:
    """Raise BlockedPrivateAddress for requests to private hosts that are not allow-listed."""

    def __init__(self, allow_all: bool, allowed_hosts: list[str]) -> None:
        self.allow_all = allow_all
        self.allowed_hosts = {host.lower() for host in allowed_hosts}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateNetworkMiddleware:
        settings = crawler.settings
        return cls(
            settings.getbool("XINLIAN_ALLOW_PRIVATE_NETWORKS"),
            settings.getlist("XINLIAN_ALLOWED_PRIVATE_HOSTS"),
        )

    async def process_request(self, request: Request) -> None:
        """Refuse the request when its host is private and not allow-listed."""
        if self.allow_all:
            return None
        parts = urlsplit(request.url)
        host = (parts.hostname or "").lower()
        if not host or host in self.allowed_hosts:
            return None
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = await _resolve(host, port)
        blocked = [address for address in addresses if is_private_address(address)]
        if blocked:
            raise BlockedPrivateAddress(f"{host} resolves to private address {blocked[0]}")
        return None
