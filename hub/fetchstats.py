"""Per-source fetch statistics of one crawl, and what they change (docs/architecture.md step 9).

The crawler's downloader middleware (crawlers/middlewares/stats.py) fills a FetchStats per source;
hub.crawlrecord writes it on the source's CrawlOutcome (``fetch_columns``). A permanent redirect
(301/308) of the source's own URL seen in ``moved_after`` crawls in a row moves the source to the new
URL, unless another source already has that URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.accounturl import ACCOUNT_URL_PREFIX
from hub.models import Source
from hub.secreturl import masked_url

# Redirect hops kept per outcome (a loop would repeat the same hops up to the redirect limit).
MAX_REDIRECTS_KEPT = 20


@dataclass(slots=True)
class FetchStats:
    """What fetching one source cost and met in one crawl."""

    requests: int = 0
    bytes_received: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    failure_counts: dict[str, int] = field(default_factory=dict)
    redirects: list[dict[str, Any]] = field(default_factory=list)  # hops of the source's own URL
    items_unchanged: int = 0
    moved_to: str | None = None  # where the source URL permanently redirected to in this crawl
    moved_after: int = 3  # crawl.permanent_redirect_after, carried from the crawler's settings

    def count_status(self, status: int) -> None:
        """One response with ``status``."""
        key = str(status)
        self.status_counts[key] = self.status_counts.get(key, 0) + 1

    def count_failure(self, kind: str) -> None:
        """One failed request of ``kind`` (dns, timeout, http_5xx, robots, ...)."""
        self.failure_counts[kind] = self.failure_counts.get(kind, 0) + 1

    def add_redirect(self, status: int, url: str, target: str) -> None:
        """One redirect hop of the source's own URL."""
        if len(self.redirects) < MAX_REDIRECTS_KEPT:
            self.redirects.append({"status": status, "url": url, "to": target})


class RedirectFacts(Protocol):
    """The source columns a permanent redirect reads and moves (a Source, or the batch writer's record)."""

    id: int
    url: str
    etag: str | None
    last_modified: str | None
    moved_to_url: str | None
    moved_count: int


def fetch_columns(stats: FetchStats | None) -> dict[str, Any]:
    """The CrawlOutcome columns of ``stats`` (None: nothing counted)."""
    if stats is None:
        return {"requests": 0, "bytes_received": 0, "status_counts": {}, "failure_counts": {},
                "redirects": [], "items_unchanged": 0}  # fmt: skip
    # Hops are shown on staff pages: an account's bridge routes carry the bridge's access key (?key=),
    # and a registry URL may carry a token of its own (hub/secreturl.py).
    redirects = [
        {**hop, "url": masked_url(hop["url"]), "to": masked_url(hop["to"])} for hop in stats.redirects
    ]
    return {
        "requests": stats.requests,
        "bytes_received": stats.bytes_received,
        "status_counts": dict(stats.status_counts),
        "failure_counts": dict(stats.failure_counts),
        "redirects": redirects,
        "items_unchanged": stats.items_unchanged,
    }


def count_redirect(source: RedirectFacts, stats: FetchStats, taken: Callable[[int, str], bool]) -> None:
    """Advance the source's permanent-redirect count from this crawl's ``stats``.

    An account's URL is built from the settings at crawl time: it never moves.
    """
    if not source.url.startswith(ACCOUNT_URL_PREFIX):
        count_permanent_redirect(source, stats.moved_to, stats.moved_after, taken)


def note_permanent_redirect(session: Session, source: Source, target: str | None, moved_after: int) -> bool:
    """Count a permanent redirect to ``target`` (None: not redirected, the count restarts); True if moved."""
    return count_permanent_redirect(
        source, target, moved_after, lambda source_id, url: url_taken(session, source_id, url)
    )


def url_taken(session: Session, source_id: int, url: str) -> bool:
    """Another source than ``source_id`` has ``url``."""
    return session.scalar(select(Source.id).where(Source.url == url, Source.id != source_id)) is not None


def count_permanent_redirect(
    source: RedirectFacts, target: str | None, moved_after: int, taken: Callable[[int, str], bool]
) -> bool:
    """note_permanent_redirect on any record of the source's columns; ``taken(source_id, url)`` says
    whether another source has the URL already."""
    if target is None or target == source.url:
        source.moved_to_url, source.moved_count = None, 0
        return False
    if source.moved_to_url == target:
        source.moved_count = (source.moved_count or 0) + 1
    else:
        source.moved_to_url, source.moved_count = target, 1
    if source.moved_count < moved_after:
        return False
    if taken(source.id, target):
        return False  # two registry entries would become one; the operator decides (moved_to_url shows it)
    source.url = target
    # The validators belonged to the old URL.
    source.etag, source.last_modified = None, None
    source.moved_to_url, source.moved_count = None, 0
    return True
