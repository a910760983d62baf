"""The daily homepage probe (docs/health.md): is the site there, how fast, how redirected, TLS, robots.

One GET of each homepage (redirects followed hop by hop, each hop through the crawl's SSRF guard:
``netguard``), and one robots.txt per origin per run, read with Protego as Scrapy reads it. asyncio +
aiohttp: thousands of homepages in flight on one core. Failures get the crawl's error kinds
(crawlers/errors.py): timeout, dns, refused, connection, tls, blocked_private, redirect_loop, error.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from cryptography import x509
from protego import Protego

from crawlers.safety import HostPolicy, parse_ip_literal
from hub.health.netguard import GuardedResolver, GuardRefused, refusal_before_connect
from hub.settings import Settings

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
# A homepage is read only to finish the response (and keep the connection); more than this is cut.
MAX_HOMEPAGE_BYTES = 2 * 1024 * 1024
MESSAGE_MAX = 500


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """A homepage to probe, and the URL robots.txt must allow us (the source's own URL)."""

    url: str
    check_url: str


@dataclass(slots=True)
class ProbeResult:
    """What one homepage probe found."""

    url: str
    reachable: bool  # an HTTP answer came back from the last hop (any status)
    status_code: int | None = None
    latency_ms: int | None = None  # from the first request to the last hop's response headers
    error_kind: str | None = None
    message: str | None = None
    redirects: list[dict[str, Any]] = field(default_factory=list)  # [{"status", "url", "to"}]
    tls_expires_at: datetime | None = None  # the certificate of the first https hop
    robots_blocked: bool | None = None  # None: robots.txt could not be read

    def tls_days_left(self, now: datetime) -> float | None:
        """Days until the certificate expires (negative: expired), None for plain http."""
        if self.tls_expires_at is None:
            return None
        return (self.tls_expires_at - now).total_seconds() / 86400


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    """How to probe: the crawl's user agent and SSRF policy, the [health] limits."""

    user_agent: str
    policy: HostPolicy
    timeout_s: float = 10.0
    concurrency: int = 100
    per_host: int = 4
    max_redirects: int = 5
    ca_file: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> ProbeConfig:
        """The probe configuration of ``settings`` (crawl user agent and guard, [health] limits)."""
        crawl, health = settings.crawl, settings.health
        return cls(
            user_agent=crawl.user_agent,
            policy=HostPolicy(crawl.allow_private_networks, crawl.allowed_private_hosts),
            timeout_s=health.probe_timeout_s,
            concurrency=health.probe_concurrency,
            per_host=health.probe_per_host,
            max_redirects=crawl.max_redirects,
            ca_file=health.ca_file,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """The system's trust store, plus ``ca_file`` when set."""
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context


def classify_probe_error(exc: BaseException) -> tuple[str, str]:
    """The error kind (the crawl's vocabulary) and a message for a failed probe request."""
    message = f"{type(exc).__name__}: {exc}"[:MESSAGE_MAX]
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "timeout", message
    if isinstance(exc, aiohttp.ClientConnectorDNSError | aiohttp.ClientConnectorError) and isinstance(
        exc.os_error, GuardRefused
    ):
        return "blocked_private", str(exc.os_error)
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return "tls", message
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "dns", message
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "refused", message
        return "connection", message
    if isinstance(exc, aiohttp.ClientError | OSError):
        return "connection", message
    return "error", message


async def _drain(response: aiohttp.ClientResponse) -> None:
    # Read the body so the connection goes back to the pool; a huge homepage is cut short.
    size = 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > MAX_HOMEPAGE_BYTES:
            response.close()
            return


class Prober:
    """Probes homepages over one aiohttp session; robots.txt is read once per origin."""

    def __init__(
        self, config: ProbeConfig, session: aiohttp.ClientSession, resolver: GuardedResolver
    ) -> None:
        self.config = config
        self.session = session
        self.resolver = resolver
        self._robots: dict[str, asyncio.Task[Protego | None]] = {}
        self._certificates: dict[str, asyncio.Task[datetime | None]] = {}
        self._unverified = _unverified_context()  # reads certificate end dates only, never fetches
        self._slots = asyncio.Semaphore(config.concurrency)

    async def probe(self, target: ProbeTarget) -> ProbeResult:
        """Probe one homepage, then check its origin's robots.txt against ``target.check_url``."""
        async with self._slots:
            result = await self._homepage(target.url)
            if result.reachable:
                result.robots_blocked = await self._robots_blocked(target.check_url)
        return result

    async def _homepage(self, url: str) -> ProbeResult:
        result = await self._fetch_homepage(url)
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname and result.error_kind != "blocked_private":
            result.tls_expires_at = await self._certificate_expiry(parts.hostname, parts.port or 443)
        return result

    async def _fetch_homepage(self, url: str) -> ProbeResult:
        started = time.perf_counter()
        hops: list[dict[str, Any]] = []
        current, seen = url, {url}
        try:
            async with asyncio.timeout(self.config.timeout_s):
                for _ in range(self.config.max_redirects + 1):
                    refused = refusal_before_connect(self.config.policy, current)
                    if refused is not None:
                        return ProbeResult(
                            url, False, error_kind="blocked_private", message=refused, redirects=hops
                        )
                    async with self.session.get(current, allow_redirects=False) as response:
                        location = response.headers.get("Location")
                        if response.status in REDIRECT_CODES and location:
                            target = urljoin(current, location)
                            hops.append({"status": response.status, "url": current, "to": target})
                            await _drain(response)
                            if target in seen:
                                return _redirect_loop(url, hops, "redirect loop")
                            current = target
                            seen.add(target)
                            continue
                        latency_ms = round((time.perf_counter() - started) * 1000)
                        await _drain(response)
                        return ProbeResult(
                            url,
                            True,
                            status_code=response.status,
                            latency_ms=latency_ms,
                            error_kind=_status_kind(response.status),
                            redirects=hops,
                        )
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            kind, message = classify_probe_error(exc)
            return ProbeResult(url, False, error_kind=kind, message=message, redirects=hops)
        return _redirect_loop(url, hops, f"more than {self.config.max_redirects} redirects")

    async def _certificate_expiry(self, host: str, port: int) -> datetime | None:
        key = f"{host}:{port}"
        task = self._certificates.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read_certificate(host, port))
            self._certificates[key] = task
        return await task

    async def _read_certificate(self, host: str, port: int) -> datetime | None:
        # A handshake of its own, without verification: an untrusted or expired certificate's end date
        # is reported too (aiohttp hands a connection back to its pool before we could look at it).
        # The address passes the same guard as the probe's requests.
        try:
            async with asyncio.timeout(self.config.timeout_s):
                if refusal_before_connect(self.config.policy, f"https://{host}:{port}/") is not None:
                    return None
                literal = parse_ip_literal(host)
                if literal is not None:
                    address = str(literal)
                else:
                    address = (await self.resolver.resolve(host, port))[0]["host"]
                _, writer = await asyncio.open_connection(
                    address, port, ssl=self._unverified, server_hostname=host
                )
                try:
                    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
                finally:
                    writer.close()
        except (TimeoutError, OSError, ssl.SSLError, IndexError):
            return None
        if not der:
            return None
        return x509.load_der_x509_certificate(der).not_valid_after_utc

    async def _robots_blocked(self, check_url: str) -> bool | None:
        parts = urlsplit(check_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        task = self._robots.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._read_robots(origin))
            self._robots[origin] = task
        rules = await task
        if rules is None:
            return None
        return not rules.can_fetch(check_url, self.config.user_agent)

    async def _read_robots(self, origin: str) -> Protego | None:
        url = f"{origin}/robots.txt"
        if refusal_before_connect(self.config.policy, url) is not None:
            return None
        try:
            async with asyncio.timeout(self.config.timeout_s):
                async with self.session.get(url, allow_redirects=False) as response:
                    if 400 <= response.status < 500:
                        return Protego.parse("")  # no robots.txt: everything is allowed
                    if response.status != 200:
                        return None
                    body = await response.content.read(512 * 1024)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
            return None
        return Protego.parse(body.decode("utf-8", errors="replace"))


def _status_kind(status: int) -> str | None:
    if status >= 500:
        return "http_5xx"
    if status >= 400:
        return "http_4xx"
    return None


def _redirect_loop(url: str, hops: list[dict[str, Any]], message: str) -> ProbeResult:
    # The site answered, so it is reachable, but no page came out of it.
    status = hops[-1]["status"] if hops else None
    return ProbeResult(url, True, status, error_kind="redirect_loop", message=message, redirects=hops)


async def probe_homepages(targets: Sequence[ProbeTarget], config: ProbeConfig) -> list[ProbeResult]:
    """Probe every target (results in the same order)."""
    resolver = GuardedResolver(config.policy)
    connector = aiohttp.TCPConnector(
        limit=config.concurrency, limit_per_host=config.per_host, ssl=config.ssl_context(), resolver=resolver
    )
    timeout = aiohttp.ClientTimeout(total=config.timeout_s)
    headers = {"User-Agent": config.user_agent}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:
        prober = Prober(config, session, resolver)
        return list(await asyncio.gather(*(prober.probe(target) for target in targets)))


def run_probes(targets: Sequence[ProbeTarget], config: ProbeConfig) -> list[ProbeResult]:
    """``probe_homepages`` on an event loop of its own (CLI, worker job thread)."""
    return asyncio.run(probe_homepages(targets, config))
