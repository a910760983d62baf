"""Failure → error kind (docs/architecture.md step 9): every failed source gets one classified outcome.

Kinds: timeout, dns, refused, connection, http_4xx, http_5xx, redirect_loop, too_large, parse_error,
encoding (no charset reads the page or feed: crawlers/spiders/base.py, crawlers/feeds.py), blocked_private,
robots, rate_limited, tls, error (anything else; the message says what).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.internet import error as net_error
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from crawlers.bridge import retry_after_seconds
from crawlers.middlewares.privatenet import BlockedPrivateAddress

# A Retry-After further away than this is read as this (a typo must not silence a source for a year).
MAX_RETRY_AFTER_S = 7 * 86400.0


@dataclass(slots=True, frozen=True)
class FailureInfo:
    """A classified failure: kind, HTTP status if there was one, and a readable message."""

    kind: str
    http_status: int | None
    message: str
    retry_after_s: float | None = None  # the source asked to be left alone this long (429 Retry-After)


def _classify_status(status: int, retry_after: bytes | None) -> FailureInfo:
    # 429, or 503 with Retry-After: the source asked us to come back later (per source, not per host).
    wait_s = retry_after_seconds(retry_after.decode("latin-1")) if retry_after else None
    if status == 429 or (status == 503 and wait_s is not None):
        if wait_s is not None:
            wait_s = min(wait_s, MAX_RETRY_AFTER_S)
        return FailureInfo("rate_limited", status, f"HTTP {status}, Retry-After {wait_s}", wait_s)
    kind = "http_5xx" if status >= 500 else "http_4xx"
    return FailureInfo(kind, status, f"HTTP {status}")


def _wrapped_reasons(exc: BaseException) -> list[BaseException]:
    # Twisted's web client wraps the real cause (e.g. a timeout) in a list of failures.
    if isinstance(exc, ResponseFailed | ResponseNeverReceived):
        return [reason.value for reason in exc.reasons if isinstance(reason, Failure) and reason.value]
    return []


def classify_exception(exc: BaseException) -> FailureInfo:
    """The error kind of one download or processing exception."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, HttpError):
        return _classify_status(exc.response.status, exc.response.headers.get(b"Retry-After"))
    if isinstance(exc, BlockedPrivateAddress):
        return FailureInfo("blocked_private", None, str(exc))
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "DOWNLOAD_MAXSIZE" in text:
            # HttpCompressionMiddleware: the body inflated past the limit (a gzip bomb). Checked first:
            # this message quotes the URL, which may hold any word.
            return FailureInfo("too_large", None, text)
        if "redirect" in text:
            return FailureInfo("redirect_loop", None, text)
        if "robots" in text:
            return FailureInfo("robots", None, text)
        return FailureInfo("error", None, message)
    if isinstance(exc, ssl.SSLError) or type(exc).__module__.startswith("OpenSSL"):
        return FailureInfo("tls", None, message)
    if isinstance(exc, DownloadTimeoutError | net_error.TimeoutError | defer.TimeoutError):
        return FailureInfo("timeout", None, message)
    if isinstance(exc, CannotResolveHostError | net_error.DNSLookupError):
        return FailureInfo("dns", None, message)
    if isinstance(exc, DownloadConnectionRefusedError | net_error.ConnectionRefusedError):
        return FailureInfo("refused", None, message)
    if isinstance(exc, DownloadCancelledError | defer.CancelledError):
        # Scrapy cancels a download that outgrows DOWNLOAD_MAXSIZE.
        return FailureInfo("too_large", None, message)
    for reason in _wrapped_reasons(exc):
        inner = classify_exception(reason)
        if inner.kind != "connection":
            return inner
    if isinstance(
        exc,
        ResponseFailed
        | ResponseNeverReceived
        | ResponseDataLossError
        | DownloadFailedError
        | net_error.ConnectError
        | net_error.ConnectionLost,
    ):
        return FailureInfo("connection", None, message)
    return FailureInfo("error", None, message)


def classify_failure(failure: Failure) -> FailureInfo:
    """The error kind of a Twisted Failure as handed to a Scrapy errback."""
    if failure.value is None:
        return FailureInfo("error", None, repr(failure))
    return classify_exception(failure.value)
