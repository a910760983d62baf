"""A small synchronous fetcher for operator commands (``sources test``, ``sources discover``).

The crawl itself runs in Scrapy; these commands fetch a handful of pages from the CLI process, where
starting Scrapy's reactor is not an option. Same rules as the crawl: the private-address guard on
every hop (redirects included), the size cap, the timeout and the user agent from the settings.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from w3lib.url import safe_url_string

from crawlers.decode import charset_from_content_type, decode_html
from crawlers.safety import HostPolicy, parse_ip_literal
from hub.settings import CrawlSettings

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """A page could not be fetched; the message says why in words an operator can act on."""


@dataclass(slots=True)
class FetchedPage:
    """One fetched response: final URL, status, content type and body."""

    url: str
    status: int
    content_type: str | None
    body: bytes

    def text(self) -> str:
        """The body decoded like the crawler decodes it (header → BOM → meta → detection)."""
        return decode_html(self.body, charset_from_content_type(self.content_type)).text


def _addresses(host: str, port: int) -> list[str]:
    literal = parse_ip_literal(host)
    if literal is not None:
        return [str(literal)]
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"{host}: DNS lookup failed ({exc})") from exc


class PageFetcher:
    """Fetches pages one at a time with the crawl's safety rules."""

    def __init__(self, crawl: CrawlSettings) -> None:
        self.crawl = crawl
        self.policy = HostPolicy(crawl.allow_private_networks, crawl.allowed_private_hosts)
        self.client = httpx.Client(
            timeout=crawl.download_timeout_s,
            headers={"User-Agent": crawl.user_agent},
            follow_redirects=False,
        )

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{url}: only http(s) URLs can be fetched")
        host = parts.hostname.lower()
        if self.policy.allowed_name(host):
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        reason = self.policy.refusal(host, _addresses(host, port))
        if reason is not None:
            raise FetchError(f"{url}: refused, {reason} (not allow-listed)")

    def get(self, url: str) -> FetchedPage:
        """GET ``url`` following redirects hop by hop; raises FetchError on refusal, failure or size."""
        # Escaped as Scrapy escapes every request URL, so the guard and the client read the host the
        # crawl reads (``http://a\\@b/``: host a there, b for urlsplit and httpx).
        url = safe_url_string(url)
        for _ in range(self.crawl.max_redirects + 1):
            self._check(url)
            # httpx's timeout bounds each read; a site dripping a byte at a time never trips it. The
            # crawl's timeout is for the whole exchange, and so is this one.
            deadline = time.monotonic() + self.crawl.download_timeout_s
            try:
                with self.client.stream("GET", url) as response:
                    if response.status_code in REDIRECT_CODES and "location" in response.headers:
                        url = safe_url_string(urljoin(url, response.headers["location"]))
                        continue
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if time.monotonic() > deadline:
                            raise httpx.ReadTimeout("answer too slow", request=response.request)
                        if len(body) > self.crawl.max_page_bytes:
                            raise FetchError(f"{url}: larger than {self.crawl.max_page_bytes} bytes")
                    return FetchedPage(
                        url, response.status_code, response.headers.get("content-type"), bytes(body)
                    )
            except httpx.TimeoutException as exc:
                raise FetchError(f"{url}: timed out after {self.crawl.download_timeout_s}s") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
        raise FetchError(f"{url}: more than {self.crawl.max_redirects} redirects")

    def get_ok(self, url: str) -> FetchedPage:
        """Like ``get`` but an HTTP error status is a FetchError too."""
        page = self.get(url)
        if page.status >= 400:
            raise FetchError(f"{url}: HTTP {page.status}")
        return page

    def close(self) -> None:
        self.client.close()
