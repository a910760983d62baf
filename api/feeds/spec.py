"""Which feed is meant: its kind, format and filters, and its one canonical URL.

The canonical URL is the feed's ``rel="self"`` and the WebSub topic subscribers name, so a topic given
to the hub is parsed back into a FeedSpec (``parse_topic``) and compared in canonical form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from api.params import MAX_ROW_ID
from api.search import SearchParams, normalized_params

FORMATS = ("rss", "atom", "json")
MEDIA_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
KINDS = ("all", "unit", "category", "search")
_FORMAT = r"feed\.(rss|atom|json)"
_PATHS = (
    ("all", re.compile(rf"^/{_FORMAT}$")),
    ("unit", re.compile(rf"^/units/([^/]+)/{_FORMAT}$")),
    ("category", re.compile(rf"^/categories/([^/]+)/{_FORMAT}$")),
    ("search", re.compile(rf"^/search/{_FORMAT}$")),
)
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no"})


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One of our feeds. ``unit`` is a slug; ``search`` the search parameters of a search feed."""

    kind: str
    fmt: str
    unit: str = ""
    subtree: bool = True  # unit feeds: the unit and every unit below it (the default)
    category: str = ""
    search: SearchParams | None = None

    @property
    def media_type(self) -> str:
        """Content-Type of the document."""
        return MEDIA_TYPES[self.fmt]

    def path(self) -> str:
        """Root-relative canonical path and query (defaults left out, search paging dropped)."""
        if self.kind == "unit":
            query = "" if self.subtree else "?subtree=0"
            return f"/units/{quote(self.unit, safe='')}/feed.{self.fmt}{query}"
        if self.kind == "category":
            return f"/categories/{quote(self.category, safe='')}/feed.{self.fmt}"
        if self.kind == "search":
            query = canonical_search(self.search or SearchParams()).query_string()
            return f"/search/feed.{self.fmt}" + (f"?{query}" if query else "")
        return f"/feed.{self.fmt}"

    def url(self, base_url: str) -> str:
        """Absolute canonical URL under the portal's public ``base_url``."""
        return base_url.rstrip("/") + self.path()

    def with_format(self, fmt: str) -> FeedSpec:
        """The same feed in another format (for rel="alternate" links)."""
        return replace(self, fmt=fmt)


def canonical_search(params: SearchParams) -> SearchParams:
    """The parameters that decide a search feed: feeds are newest first, without paging."""
    return replace(params, sort="relevance", recent=False, page=1, cursor="")


def parse_topic(topic: str, base_url: str) -> FeedSpec | None:
    """The feed an absolute ``topic`` URL names, if it is one of ours under ``base_url``; else None."""
    parts, base = urlsplit(topic.strip()), urlsplit(base_url.rstrip("/"))
    if (parts.scheme.lower(), parts.netloc.lower()) != (base.scheme.lower(), base.netloc.lower()):
        return None
    if parts.fragment or not parts.path.startswith(base.path + "/"):
        return None
    path = parts.path[len(base.path) :]
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for kind, pattern in _PATHS:
        match = pattern.match(path)
        if match is None:
            continue
        fmt = match.group(match.lastindex or 1)
        if kind == "unit":
            subtree = _flag(query.get("subtree", "1"))
            if subtree is None:
                return None
            return FeedSpec("unit", fmt, unit=unquote(match.group(1)), subtree=subtree)
        if kind == "category":
            return FeedSpec("category", fmt, category=unquote(match.group(1)))
        if kind == "search":
            params = search_params_from(query)
            return None if params is None else FeedSpec("search", fmt, search=canonical_search(params))
        return FeedSpec("all", fmt)
    return None


def search_params_from(query: Mapping[str, str]) -> SearchParams | None:
    """SearchParams from a topic's query string, as the /search route reads them; None if malformed."""
    try:
        source = int(query["source"]) if query.get("source") else None
        since = date.fromisoformat(query["since"]) if query.get("since") else None
        until = date.fromisoformat(query["until"]) if query.get("until") else None
    except ValueError:
        return None
    flags = {name: _flag(query.get(name, "0")) for name in ("attachments", "recent")}
    if None in flags.values() or (source is not None and not 1 <= source <= MAX_ROW_ID):
        return None
    return normalized_params(
        SearchParams(
            q=query.get("q", "")[:200],
            unit=query.get("unit", "")[:64],
            level=query.get("level", "")[:16],
            unit_type=query.get("type", "")[:16],
            category=query.get("category", "")[:50],
            region=query.get("region", "")[:32],
            source=source,
            since=since,
            until=until,
            attachments=bool(flags["attachments"]),
            recent=bool(flags["recent"]),
        )
    )


def _flag(value: str) -> bool | None:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE or lowered == "":
        return False
    return None
