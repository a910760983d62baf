"""What a feed says, read by either parser (docs/architecture.md step 4).

Both readers — the lxml fast path (crawlers/feedxml.py) and feedparser — fill these plain records,
and crawlers/feeds.py turns them into RawItems, so the two give equal items by construction wherever
they read equal fields (tests/test_feed_fastpath.py compares them on every sample feed flavour).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

DATE_KEYS = ("published", "updated", "created")


@dataclass(slots=True)
class Enclosure:
    """An enclosure link as the feed gives it (href not yet joined with the entry URL)."""

    href: str
    type: str = ""
    title: str | None = None


@dataclass(slots=True)
class EntryFields:
    """One entry: link as written (after xml:base), text fields, dates with feedparser's parse."""

    link: str | None
    title: str = ""
    guid: str | None = None
    content: str = ""
    summary: str = ""
    # key (published, updated, created) → (raw text, feedparser's UTC struct_time or None)
    dates: dict[str, tuple[str, time.struct_time | None]] = field(default_factory=dict)
    author: str | None = None
    category: str | None = None
    enclosures: list[Enclosure] = field(default_factory=list)


@dataclass(slots=True)
class FeedFields:
    """The feed's title, the hub and self links it advertises, and its entries in order."""

    title: str
    hub_url: str | None = None
    self_url: str | None = None
    entries: list[EntryFields] = field(default_factory=list)
    ttl: str | None = None  # RSS <ttl>, minutes: the feed asks not to be polled more often


def first_links(links: list[tuple[str, str]]) -> dict[str, str]:
    """rel → href of the first link with each rel (how a feed's hub and self links are read)."""
    found: dict[str, str] = {}
    for rel, href in links:
        found.setdefault(rel, href)
    return found


def from_feedparser(parsed: Any) -> FeedFields:
    """The fields of a ``feedparser.parse`` result."""
    links = [(str(link.get("rel")), str(link.get("href"))) for link in parsed.feed.get("links") or []]
    rels = first_links(links)
    ttl = parsed.feed.get("ttl")
    feed = FeedFields(
        title=str(parsed.feed.get("title", "")),
        hub_url=rels.get("hub"),
        self_url=rels.get("self"),
        ttl=str(ttl) if ttl is not None else None,
    )
    for entry in parsed.entries:
        contents = entry.get("content") or []
        tags = entry.get("tags") or []
        dates = {}
        for key in DATE_KEYS:
            # dict.get: FeedParserDict's own get maps a missing "updated" to "published" (with a warning).
            raw = dict.get(entry, key)
            if raw is not None:
                dates[key] = (str(raw), dict.get(entry, f"{key}_parsed"))
        feed.entries.append(
            EntryFields(
                link=entry.get("link"),
                title=str(entry.get("title") or ""),
                guid=entry.get("id"),
                content=str(contents[0].get("value", "")) if contents else "",
                summary=str(entry.get("summary") or ""),
                dates=dates,
                author=entry.get("author"),
                category=str(tags[0].get("term")) if tags else None,
                enclosures=[
                    Enclosure(str(e["href"]), str(e.get("type", "")), e.get("title"))
                    for e in entry.get("enclosures") or []
                    if e.get("href")
                ],
            )
        )
    return feed
