"""RawItem: what a crawler hands to hub.ingest (step 4 of docs/architecture.md).

Plain data, no behaviour: crawlers fill it, ingest turns it into an Item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True, frozen=True)
class Attachment:
    """A linked file (pdf, doc, xls, wps, zip ...) with its visible name and absolute URL."""

    name: str
    url: str


@dataclass(slots=True)
class RawItem:
    """One crawled news item or notice, before canonicalization and dedupe."""

    source_id: int
    url: str
    title: str
    html: str = ""  # unsanitized body HTML as found (ingest sanitizes)
    text: str = ""  # plain text of the body
    guid: str | None = None
    summary: str = ""
    author: str | None = None
    origin: str | None = None  # 来源 line
    category: str | None = None
    published_at: datetime | None = None  # aware (UTC) when known
    # Where published_at came from: selector, label, meta, list, feed, url, first_seen.
    date_source: str = "first_seen"
    date_flag: str | None = None  # "future_clamped" when the source's date was in the future
    attachments: list[Attachment] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)  # absolute URLs of <video> files and known players
