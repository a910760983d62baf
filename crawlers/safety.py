"""SSRF guard: no private, loopback, link-local or metadata targets (docs/architecture.md step 4).

Crawled URLs are untrusted: a registry entry or any redirect hop must not reach the operator's own
network. Hosts named in ``crawl.allowed_private_hosts`` (the sample network: ``127.0.0.1``) or
``crawl.allow_private_networks`` lift the ban. A name on the allow-list matches that name only (case
aside): ``sample.local`` does not allow ``a.sample.local``, and ``127.0.0.1`` does not allow ``localhost``
(a name is only as trustworthy as whoever answers for it in DNS). An address on the allow-list matches
that address in any spelling (``127.1``, ``2130706433``, ``0x7f.0.0.1``): the URL standard makes them one
host, and URL libraries (w3lib >= 2.6, browsers) rewrite them to ``127.0.0.1`` before we see them, so a
spelling rule would differ between code paths without keeping anything out. ``127.0.0.2`` or
``::ffff:127.0.0.1`` are other addresses and stay refused. Redirects are new requests and pass through
the middleware again.

The address rules are here, free of Scrapy (the worker, the health probe and the WebSub hub use
them too). Two checks on the crawl: ``crawlers.middlewares.privatenet.PrivateNetworkMiddleware``
refuses before download (literal IPs in any spelling, names resolved once and the answer kept
``DNS_TTL_S`` for the crawl's other requests to that host);
``crawlers.middlewares.resolver.GuardedResolver`` checks again the address Twisted actually connects
to, which closes the DNS-rebinding gap between the two lookups (and any staleness of the kept answer).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints, named even though the ranges below already cover them.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# Shared address space (RFC 6598) is not "private" to the ipaddress module but is not public either.
CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NUMERIC_HOST = frozenset("0123456789abcdefxABCDEFX.")
# How long the pre-download check keeps a name's addresses. The connect-time check does not use them,
# so a longer time only delays noticing a changed answer, never lets a private address through.
DNS_TTL_S = 60.0
DNS_CACHE_SIZE = 4096


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, including inet_aton forms (``2130706433``, ``0x7f.1``, ``0177.0.0.1``)."""
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and set(host) <= _NUMERIC_HOST and any(ch.isdigit() for ch in host):
        try:
            # inet_aton accepts the legacy decimal/octal/hex spellings resolvers and browsers accept.
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_private_address(address: str | IPAddress) -> bool:
    """True for any address that is not plainly public: private, loopback, link-local, CGNAT, multicast,
    reserved, unspecified, metadata, and IPv4-mapped or 6to4 forms of those."""
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_private_address(ip.ipv4_mapped)
        if ip.sixtofour is not None and is_private_address(ip.sixtofour):
            return True
    if ip in METADATA_ADDRESSES or (isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT):
        return True
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


class HostPolicy:
    """Which hosts may be fetched: public ones, plus the operator's allow-list."""

    def __init__(self, allow_all: bool, allowed_hosts: list[str]) -> None:
        self.allow_all = allow_all
        self.allowed_hosts = {host.lower().strip("[]") for host in allowed_hosts}
        self.allowed_addresses = {
            address for address in map(parse_ip_literal, self.allowed_hosts) if address is not None
        }

    def allowed_name(self, host: str) -> bool:
        """True when no address check is needed for ``host``: an allowed name, or an allowed address
        however it is spelled."""
        if self.allow_all or not host:
            return True
        host = host.lower().strip("[]")
        if host in self.allowed_hosts:
            return True
        return bool(self.allowed_addresses) and parse_ip_literal(host) in self.allowed_addresses

    def refusal(self, host: str, addresses: list[str]) -> str | None:
        """Why ``host`` (resolved to ``addresses``) is refused, or None if it may be fetched."""
        if self.allowed_name(host):
            return None
        blocked = [address for address in addresses if is_private_address(address)]
        if blocked:
            return f"{host} resolves to private address {blocked[0]}"
        return None


async def _resolve(host: str, port: int) -> list[str]:
    # The event loop resolves in its executor, so the reactor never blocks on DNS.
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []  # the download itself will fail and be classified as "dns"
    return [str(info[4][0]) for info in infos]


Lookup = Callable[[str, int], Awaitable[list[str]]]


class AddressCache:
    """Addresses per (host, port) for ``ttl`` seconds; concurrent lookups of one name share one query.

    Failed lookups (no address) are not kept. Used from the event loop's thread only.
    """

    def __init__(
        self,
        ttl: float = DNS_TTL_S,
        size: int = DNS_CACHE_SIZE,
        lookup: Lookup = _resolve,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.size, self.lookup, self.clock = ttl, size, lookup, clock
        self._entries: dict[tuple[str, int], tuple[float, asyncio.Future[list[str]]]] = {}

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``, from a lookup at most ``ttl`` seconds old."""
        key, now = (host, port), self.clock()
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            if len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)))  # the oldest entry
            entry = (now + self.ttl, asyncio.ensure_future(self.lookup(host, port)))
            self._entries[key] = entry
        try:
            addresses = await asyncio.shield(entry[1])  # one waiter cancelled leaves the query to the others
        except BaseException:
            self._forget(key, entry)
            raise
        if not addresses:
            self._forget(key, entry)
        return addresses

    def _forget(self, key: tuple[str, int], entry: tuple[float, asyncio.Future[list[str]]]) -> None:
        if self._entries.get(key) is entry:
            del self._entries[key]
