"""What every Xinlian spider shares: per-source request accounting, conditional GET and body hashes,
failure classes.

Each request names its source (``meta["source_id"]``); the ledger counts it in flight until its
callback or errback has finished, so a source's outcome is written as soon as it is done.
A failure of the source's own URL fails the source; a failed article only adds a note.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import scrapy
from scrapy.http import Response
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from crawlers.bridge import redact, retry_after_seconds
from crawlers.decode import charset_from_content_type, decode_html, meta_charset
from crawlers.errors import FailureInfo, classify_failure
from crawlers.feeds import FeedParseError
from crawlers.ledger import CrawlLedger, SourceJob
from hub.rawitem import RawItem
from hub.removal import GONE_STATUSES
from hub.settings import BridgeSettings, CrawlSettings

logger = logging.getLogger(__name__)


class ParseFailure(ValueError):
    """The source's page could not be understood (no feed, no article list...)."""

    kind = "parse_error"  # the outcome's error kind (hub/crawlrecord.py ERROR_KINDS)


class EncodingFailure(ParseFailure):
    """No charset reads the page cleanly (header, BOM, meta and detection all fail): its text would be
    replacement characters, so it is not parsed and the failure is recorded as ``encoding``."""

    kind = "encoding"


class SourceSpider(scrapy.Spider):
    """Base of the feed and HTML spiders: crawls a fixed list of sources for one run."""

    name = "xinlian-base"

    def __init__(
        self,
        jobs: list[SourceJob],
        ledger: CrawlLedger,
        crawl_settings: CrawlSettings,
        zone: str,
        bridge: BridgeSettings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.jobs = jobs
        self.ledger = ledger
        self.crawl_settings = crawl_settings
        self.zone = zone
        self.bridge = bridge or BridgeSettings()

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Scrapy's settings for our spiders: a 429 is not retried at once, it pauses the source."""
        super().update_settings(settings)
        settings.set("RETRY_HTTP_CODES", [500, 502, 503, 504, 522, 524, 408], priority="spider")

    def source_request(
        self,
        job: SourceJob,
        url: str,
        handler: str,
        primary: bool = False,
        **cb_kwargs: Any,
    ) -> scrapy.Request:
        """A request on behalf of ``job``; ``primary`` marks the source's own URL (conditional GET)."""
        self.ledger.begin(job.id)
        headers: dict[str, str] = {}
        meta: dict[str, Any] = {"source_id": job.id, "primary": primary, "handler": handler}
        if primary:
            meta["handle_httpstatus_list"] = [304, 429]
            if job.etag:
                headers["If-None-Match"] = job.etag
            if job.last_modified:
                headers["If-Modified-Since"] = job.last_modified
        return scrapy.Request(
            url,
            callback=self._dispatch,
            errback=self._on_error,
            headers=headers,
            meta=meta,
            cb_kwargs={"job": job, **cb_kwargs},
            dont_filter=True,  # dedupe is per source (ledger.claim_url); dropped requests would leak counts
        )

    def emit(self, item: RawItem) -> RawItem:
        """Count an item for its source before handing it to the pipeline."""
        self.ledger.item_found(item.source_id)
        return item

    def _dispatch(self, response: Response, job: SourceJob, **kwargs: Any) -> Iterator[Any]:
        primary = bool(response.meta.get("primary"))
        try:
            if primary:
                self.ledger.responded(
                    job.id,
                    response.status,
                    _header(response, b"ETag"),
                    _header(response, b"Last-Modified"),
                    _header(response, b"Cache-Control"),
                )
                if response.status == 304:
                    return
                if response.status == 429:
                    self.ledger.fail(job.id, _rate_limited(response))
                    return
            if len(response.body) > self.crawl_settings.max_page_bytes:
                raise ParseFailure(f"{len(response.body)} bytes is over the page limit")
            if primary and self.ledger.same_body(job.id, response.body):
                return  # the bytes parsed last time: not modified, as a 304 (crawlers/bodyhash.py)
            yield from getattr(self, response.meta["handler"])(response, job, **kwargs)
        except (ParseFailure, FeedParseError) as exc:
            self._report(job, primary, FailureInfo(exc.kind, response.status, str(exc)), response.url)
        except Exception as exc:
            # A bug must not make the source look healthy: record it, then let Scrapy log the traceback.
            self._report(job, primary, FailureInfo("error", response.status, repr(exc)), response.url)
            raise
        finally:
            self.ledger.end(job.id)

    def _on_error(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        job: SourceJob = request.cb_kwargs["job"]
        try:
            info = classify_failure(failure)
            if not request.meta.get("primary") and info.http_status in GONE_STATUSES:
                self.ledger.gone(job.id, request.url)  # a known article deleted at its source
            self._report(job, bool(request.meta.get("primary")), info, request.url)
            fallback = request.meta.get("fallback_item")
            if isinstance(fallback, RawItem):
                yield self.emit(fallback)
        finally:
            self.ledger.end(job.id)

    def _report(self, job: SourceJob, primary: bool, info: FailureInfo, url: str) -> None:
        # Bridge URLs carry the access key: it must not reach outcome messages.
        url = redact(url, self.bridge)
        info = replace(info, message=redact(info.message, self.bridge))
        if primary:
            self.ledger.fail(job.id, info)
        else:
            self.ledger.note(job.id, f"{url}: {info.kind} {info.message}")

    def decode(self, response: Response) -> str:
        """The page as text (header → BOM → meta → detection)."""
        header = charset_from_content_type(response.headers.get(b"Content-Type"))
        page = decode_html(response.body, header)
        if page.how == "fallback":
            raise EncodingFailure(
                f"no charset reads the page (declared {header or 'none'}, "
                f"<meta> {meta_charset(response.body) or 'none'}, detection failed)"
            )
        return page.text


def _rate_limited(response: Response) -> FailureInfo:
    """A 429 answer: the source (one bridge route, not the whole host) waits for its Retry-After."""
    wait = retry_after_seconds(_header(response, b"Retry-After"))
    message = "HTTP 429 too many requests" + (f"; retry after {wait:.0f} s" if wait is not None else "")
    return FailureInfo("rate_limited", 429, message, retry_after_s=wait)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
