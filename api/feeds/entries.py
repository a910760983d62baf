"""Items as feed entries: portal links, the original page, safe HTML, dates in the configured zone.

Items hold HTML sanitized on ingest; it is cleaned again here with the same nh3 allow-list
(hub/sanitize.py) because a feed leaves our pages' Content-Security-Policy behind: whatever a feed
reader shows must already be inert. Titles and summaries are plain text, escaped by the writers.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlsplit

from api.feeds.query import FeedItems
from api.feeds.spec import FeedSpec
from api.i18n import Translator
from api.rendering import http_url
from hub.models import Item
from hub.sanitize import sanitize_html
from hub.timeutil import to_zone

SUMMARY_CHARS = 200
HUB_PATH = "/websub/hub"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a notice: RSS enclosure, Atom rel="enclosure" link, JSON Feed attachment."""

    name: str
    url: str
    mime_type: str


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One notice as every feed format needs it."""

    id: str  # the portal page: stable, unique, and a real link
    title: str
    link: str  # portal page
    original: str  # the page at the unit's own site ('' if not http(s))
    content_html: str
    summary: str
    published: datetime
    updated: datetime
    author: str  # the unit
    author_url: str
    category: str | None
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """The feed itself: what it is about, where it lives, its hub, and when it last changed."""

    id: str
    title: str
    subtitle: str
    home: str  # the HTML page the feed mirrors
    self_url: str
    hub_url: str
    language: str
    updated: datetime | None
    entries: list[FeedEntry]
    alternates: dict[str, str] = field(default_factory=dict)  # format -> URL of the same feed


def safe_html(html: str, base_url: str) -> str:
    """``html`` through the ingest allow-list again: no script, no on* handler, no javascript: URL."""
    return sanitize_html(html, base_url)


def _attachments(item: Item) -> list[Attachment]:
    found = []
    for attachment in item.attachments or []:
        url = http_url(attachment.get("url") if isinstance(attachment, dict) else None)
        if not url:
            continue
        mime = mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"
        name = str(attachment.get("name") or urlsplit(url).path.rsplit("/", 1)[-1] or url)
        found.append(Attachment(name, url, mime))
    return found


def entry_of(item: Item, base_url: str, zone: str) -> FeedEntry:
    """The feed entry of an approved ``item``."""
    base = base_url.rstrip("/")
    link = f"{base}/items/{item.id}"
    summary = (item.summary or item.text or "").strip()
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1].rstrip() + "…"
    published = item.published_at or item.first_seen_at
    updated = max(published, item.reviewed_at or item.updated_at or published)
    return FeedEntry(
        id=link,
        title=item.title,
        link=link,
        original=http_url(item.url),
        content_html=safe_html(item.html or "", item.url),
        summary=summary,
        published=to_zone(published, zone),
        updated=to_zone(updated, zone),
        author=item.unit.name,
        author_url=f"{base}/units/{quote(item.unit.slug, safe='')}",
        category=item.category or item.source.category,
        attachments=_attachments(item),
    )


def _title_and_home(found: FeedItems, base: str, t: Translator) -> tuple[str, str]:
    spec = found.spec
    if spec.kind == "unit" and found.unit is not None:
        home = f"{base}/units/{quote(found.unit.slug, safe='')}"
        key = "feed_unit_subtree_title" if spec.subtree else "feed_unit_title"
        return t(key, unit=found.unit.name), home
    if spec.kind == "category":
        return t(
            "feed_category_title", category=spec.category
        ), f"{base}/search?category={quote(spec.category)}"
    if spec.kind == "search" and spec.search is not None:
        query = spec.search.query_string()
        title = t("feed_search_title", q=spec.search.q) if spec.search.q else t("feed_search_filters_title")
        return title, f"{base}/search" + (f"?{query}" if query else "")
    return t("feed_all_title"), f"{base}/"


def feed_meta(found: FeedItems, base_url: str, zone: str, language: str) -> FeedMeta:
    """Everything a writer needs to produce the feed ``found`` in any format."""
    base = base_url.rstrip("/")
    translator = Translator(language)
    title, home = _title_and_home(found, base, translator)
    entries = [entry_of(item, base, zone) for item in found.items]
    spec: FeedSpec = found.spec
    return FeedMeta(
        id=spec.url(base),
        title=title,
        subtitle=translator("site_tagline"),
        home=home,
        self_url=spec.url(base),
        hub_url=base + HUB_PATH,
        language=translator.html_lang,
        updated=max((entry.updated for entry in entries), default=None),
        entries=entries,
        alternates={fmt: spec.with_format(fmt).url(base) for fmt in ("rss", "atom", "json")},
    )
