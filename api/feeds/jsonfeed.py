"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1): a plain dict serialized once."""

from __future__ import annotations

import json
from typing import Any

from api.feeds.entries import FeedEntry, FeedMeta

VERSION = "https://jsonfeed.org/version/1.1"


def _item(entry: FeedEntry, language: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": entry.id,
        "url": entry.link,
        "title": entry.title,
        "content_html": entry.content_html,
        "summary": entry.summary,
        "date_published": entry.published.isoformat(),
        "date_modified": entry.updated.isoformat(),
        "authors": [{"name": entry.author, "url": entry.author_url}],
        "language": language,
    }
    if entry.original:
        item["external_url"] = entry.original
    if entry.category:
        item["tags"] = [entry.category]
    if entry.attachments:
        item["attachments"] = [
            {"url": a.url, "mime_type": a.mime_type, "title": a.name} for a in entry.attachments
        ]
    return item


def json_feed(meta: FeedMeta) -> dict[str, Any]:
    """The feed as a JSON Feed 1.1 object."""
    return {
        "version": VERSION,
        "title": meta.title,
        "home_page_url": meta.home,
        "feed_url": meta.self_url,
        "description": meta.subtitle,
        "language": meta.language,
        "hubs": [{"type": "WebSub", "url": meta.hub_url}],
        "items": [_item(entry, meta.language) for entry in meta.entries],
    }


def json_document(meta: FeedMeta) -> bytes:
    """The feed as UTF-8 JSON (Chinese kept as is, not \\u-escaped)."""
    return json.dumps(json_feed(meta), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
