"""One guarded GET of the fast feed path, redirects and retries included (docs/architecture.md step 4).

The rules of the Scrapy downloader and our middlewares, on every hop and attempt:
- SSRF guard: a literal IP host (any spelling) is refused before the request, a host name at connect
  time by the resolver aiohttp connects with (hub/health/netguard.py: it sees the very addresses the
  connection uses, so DNS rebinding cannot slip between a check and the connection); ``blocked_private``.
- robots.txt and the host's turn come from the gate (crawlers/fastfeed/politeness.py).
- at most ``max_bytes``: a larger Content-Length is refused before the body is read, and a body is cut
  off as soon as it passes the limit, counted after decompression (aiohttp inflates in bounded chunks,
  so a gzip bomb never grows much past the limit); ``too_large``.
- the whole exchange (connect, headers, body) within ``timeout_s``; ``timeout``.
- redirects followed up to ``max_redirects`` (then ``redirect_loop``), each target checked again;
  5xx/408 answers and network failures retried ``retry_times`` as Scrapy's RetryMiddleware does, never a
  429 or a 503 with Retry-After (the source asked to be left alone).
- per-source FetchStats as crawlers/middlewares/stats.py keeps them; bytes are the Content-Length (what
  came over the wire), or the body's length when the answer does not declare one.
Certificates are not verified, as on the Scrapy path (its DOWNLOAD_VERIFY_CERTIFICATES is off).
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy
from w3lib.url import safe_url_string
from yarl import URL

from crawlers.errors import FailureInfo
from crawlers.middlewares.stats import PERMANENT_STATUSES, REDIRECT_STATUSES, status_kind
from crawlers.redirects import redirect_url
from crawlers.safety import HostPolicy
from hub.fetchstats import FetchStats
from hub.health.netguard import GuardedResolver, refusal_before_connect
from hub.health.probe import classify_probe_error
from hub.settings import CrawlSettings

# Scrapy's retry codes for our spiders (crawlers/spiders/base.py); a 429 pauses the source instead.
RETRY_STATUSES = frozenset({500, 502, 503, 504, 522, 524, 408})
RETRY_KINDS = frozenset({"timeout", "dns", "refused", "connection"})
# Scrapy's default request headers: servers negotiate the same answer on both paths.
DEFAULT_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en",
}


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """Limits of one fetch, from the [crawl] settings."""

    user_agent: str
    policy: HostPolicy
    timeout_s: float = 15.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    retry_times: int = 1
    concurrency: int = 32
    permanent_redirect_after: int = 3

    @classmethod
    def from_settings(cls, crawl: CrawlSettings) -> FetchConfig:
        """The fetch limits of ``crawl``."""
        return cls(
            user_agent=crawl.user_agent,
            policy=HostPolicy(crawl.allow_private_networks, crawl.allowed_private_hosts),
            timeout_s=crawl.download_timeout_s,
            max_bytes=crawl.max_page_bytes,
            max_redirects=crawl.max_redirects,
            retry_times=crawl.retry_times,
            concurrency=crawl.concurrent_requests,
            permanent_redirect_after=crawl.permanent_redirect_after,
        )


@dataclass(slots=True)
class Answer:
    """The last response of a fetch: its URL (after redirects), status, headers and body."""

    url: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def header(self, name: str) -> str | None:
        """The header's first value, or None."""
        return self.headers.get(name)


class FetchFailed(Exception):
    """The fetch failed; ``info`` is the classified failure (the crawl's error kinds)."""

    def __init__(self, info: FailureInfo) -> None:
        super().__init__(info.message)
        self.info = info


class Gate(Protocol):
    """Politeness as the client sees it: may a URL be fetched, and when (crawlers/fastfeed/politeness.py)."""

    async def allows(self, url: str) -> bool:
        """False when robots.txt forbids ``url``."""
        ...

    def turn(self, url: str) -> AbstractAsyncContextManager[None]:
        """Held while one request to ``url``'s host is in flight."""
        ...


def asks_to_wait(status: int, headers: CIMultiDictProxy[str]) -> bool:
    """A 429, or a 503 with Retry-After: not retried in the crawl (crawlers/middlewares/retryafter.py)."""
    return status == 429 or (status == 503 and "Retry-After" in headers)


class FeedClient:
    """GETs with the crawl's safety rules over one aiohttp session (kept for the crawl process's life)."""

    def __init__(self, config: FetchConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session

    @classmethod
    def open(cls, config: FetchConfig) -> FeedClient:
        """A client with its own session; call from the running event loop."""
        connector = aiohttp.TCPConnector(
            limit=config.concurrency, ssl=False, resolver=GuardedResolver(config.policy)
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),  # each exchange has its own deadline
            headers={"User-Agent": config.user_agent, **DEFAULT_HEADERS},
            cookie_jar=aiohttp.DummyCookieJar(),  # sources get no cookies, as on the Scrapy path
        )
        return cls(config, session)

    async def close(self) -> None:
        """Close the session and its connections."""
        await self.session.close()

    async def get(
        self,
        url: str,
        gate: Gate,
        headers: dict[str, str] | None = None,
        stats: FetchStats | None = None,
        primary: bool = False,
        robots: bool = True,
    ) -> Answer:
        """GET ``url`` following redirects; raises FetchFailed. ``primary``: the source's own URL (its
        redirect hops and a permanent move are kept in ``stats``); ``robots=False`` for robots.txt itself."""
        current = safe_url_string(url)
        for _ in range(self.config.max_redirects + 1):
            answer = await self._attempts(current, gate, headers or {}, stats, robots)
            target = redirect_target(answer)
            if target is None:
                if stats is not None and primary and status_kind(answer.status) is None:
                    # The chain ended on a page: if every hop was permanent, the source has moved there.
                    hops = stats.redirects
                    moved = bool(hops) and all(hop["status"] in PERMANENT_STATUSES for hop in hops)
                    stats.moved_to = answer.url if moved else None
                return answer
            if stats is not None and primary:
                stats.add_redirect(answer.status, current, target)
            current = target
        raise FetchFailed(FailureInfo("redirect_loop", None, "max redirections reached"))

    async def _attempts(
        self, url: str, gate: Gate, headers: dict[str, str], stats: FetchStats | None, robots: bool
    ) -> Answer:
        refusal = refusal_before_connect(self.config.policy, url)
        if refusal is not None:
            raise _counted(stats, FailureInfo("blocked_private", None, refusal))
        if robots and not await gate.allows(url):
            raise _counted(stats, FailureInfo("robots", None, "Forbidden by robots.txt"))
        attempt = 0
        while True:
            try:
                async with gate.turn(url):
                    answer = await self._exchange(url, headers, stats)
            except FetchFailed as failed:
                _counted(stats, failed.info)
                if failed.info.kind in RETRY_KINDS and attempt < self.config.retry_times:
                    attempt += 1
                    continue
                raise
            if stats is not None:
                stats.count_status(answer.status)
                kind = status_kind(answer.status)
                if kind is not None:
                    stats.count_failure(kind)
            retry = answer.status in RETRY_STATUSES and not asks_to_wait(answer.status, answer.headers)
            if retry and attempt < self.config.retry_times:
                attempt += 1
                continue
            return answer

    async def _exchange(self, url: str, headers: dict[str, str], stats: FetchStats | None) -> Answer:
        if stats is not None:
            stats.requests += 1
            stats.moved_after = self.config.permanent_redirect_after
        limit = self.config.max_bytes
        try:
            async with asyncio.timeout(self.config.timeout_s):
                request = self.session.get(URL(url, encoded=True), headers=headers, allow_redirects=False)
                async with request as response:
                    declared = response.content_length
                    if declared is not None and declared > limit:
                        raise FetchFailed(
                            FailureInfo(
                                "too_large", None, f"{url}: {declared} bytes expected, over the {limit} limit"
                            )
                        )
                    body = await _read_capped(response, url, limit)
                    if stats is not None:
                        stats.bytes_received += declared if declared is not None else len(body)
                    return Answer(url, response.status, response.headers, body)
        except FetchFailed:
            raise
        except TimeoutError as exc:
            message = f"Getting {url} took longer than {self.config.timeout_s} seconds."
            raise FetchFailed(FailureInfo("timeout", None, message)) from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            kind, message = classify_probe_error(exc)
            raise FetchFailed(FailureInfo(kind, None, message)) from exc


async def _read_capped(response: aiohttp.ClientResponse, url: str, limit: int) -> bytes:
    """The body, refused as soon as it (decompressed) passes ``limit``; the connection is then dropped."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            response.close()
            message = f"{url}: body over the {limit} byte limit (after decompression)"
            raise FetchFailed(FailureInfo("too_large", None, message))
        chunks.append(chunk)
    return b"".join(chunks)


def _counted(stats: FetchStats | None, info: FailureInfo) -> FetchFailed:
    if stats is not None:
        stats.count_failure(info.kind)
    return FetchFailed(info)


def redirect_target(answer: Answer) -> str | None:
    """Where a redirect answer points (made absolute and escaped as Scrapy does), or None."""
    location = answer.header("Location")
    if answer.status not in REDIRECT_STATUSES or not location:
        return None
    target = redirect_url(answer.url, location)
    # Another scheme (ftp:, javascript:) is not followed: the redirect answer itself is the result.
    return target if urlsplit(target).scheme in ("http", "https") else None
