"""One feed, start to finish: its items, its validators, its document and its Link header.

The routes answer with it and the WebSub hub delivers it, so a subscriber receives exactly what a
reader fetching the topic URL would get.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from api.feeds.conditional import Validators, strong_etag
from api.feeds.entries import HUB_PATH, feed_meta
from api.feeds.jsonfeed import json_document
from api.feeds.query import FeedItems, feed_items
from api.feeds.spec import FeedSpec
from api.feeds.xmlfeed import atom_document, rss_document
from hub.settings import Settings
from index.backend import SearchBackend

# Bump when the documents change shape, so cached copies are not revalidated as current.
DOCUMENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class RenderedFeed:
    """A feed document ready to send."""

    body: bytes
    media_type: str
    validators: Validators
    links: str  # value of the Link header (hub and self)


def load(session: Session, backend: SearchBackend, settings: Settings, spec: FeedSpec) -> FeedItems:
    """The items of ``spec`` (raises UnknownFeed, and SearchBackendError for search feeds)."""
    return feed_items(session, backend, spec, settings.feeds.items, ZoneInfo(settings.timezone))


def validators(found: FeedItems, settings: Settings) -> Validators:
    """Strong ETag over the feed's identity and every entry's version; Last-Modified of the newest change."""
    parts: list[object] = [DOCUMENT_VERSION, found.spec.url(settings.web.base_url), settings.web.language]
    parts += [f"{item.id}.{item.version}" for item in found.items]
    if found.unit is not None:
        parts.append(found.unit.name)
    changed = [item.reviewed_at or item.updated_at for item in found.items]
    return Validators(strong_etag(parts), max((c for c in changed if c is not None), default=None))


def link_header(spec: FeedSpec, base_url: str) -> str:
    """``Link`` value advertising our hub and the canonical topic URL (WebSub discovery)."""
    base = base_url.rstrip("/")
    return f'<{base}{HUB_PATH}>; rel="hub", <{spec.url(base)}>; rel="self"'


def document(found: FeedItems, settings: Settings) -> bytes:
    """The document of ``found`` in its spec's format."""
    meta = feed_meta(found, settings.web.base_url, settings.timezone, settings.web.language)
    if found.spec.fmt == "rss":
        return rss_document(meta)
    if found.spec.fmt == "atom":
        return atom_document(meta)
    return json_document(meta)


def render_feed(session: Session, backend: SearchBackend, settings: Settings, spec: FeedSpec) -> RenderedFeed:
    """The whole feed of ``spec`` (for deliveries; routes use the steps to answer 304 early)."""
    found = load(session, backend, settings, spec)
    return RenderedFeed(
        document(found, settings),
        spec.media_type,
        validators(found, settings),
        link_header(spec, settings.web.base_url),
    )
