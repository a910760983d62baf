"""Feed bytes → RawItems (docs/architecture.md step 4): RSS 0.9x/1.0/2.0 and Atom via feedparser,
JSON Feed by hand. Entries whose body is only a short summary are marked for a full-text fetch.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin
from xml.sax import SAXException

import feedparser
import lxml.html
from lxml.etree import ParserError

from crawlers.dates import parse_date, plausible
from crawlers.extract import attachments_in
from hub.rawitem import Attachment, RawItem

# Below this many characters of body text an entry is treated as a teaser and its page is fetched.
FULL_TEXT_MIN_CHARS = 200
_JSON_FEED_PREFIX = "https://jsonfeed.org/version/"


class FeedParseError(ValueError):
    """The bytes are not a usable feed (malformed and no entries)."""


@dataclass(slots=True)
class FeedEntry:
    """One entry as a RawItem, plus whether its linked page should be fetched for the full text."""

    item: RawItem
    needs_full_text: bool


@dataclass(slots=True)
class ParsedFeed:
    """The entries of one feed document and its title."""

    title: str
    entries: list[FeedEntry] = field(default_factory=list)
    hub_url: str | None = None  # WebSub hub the feed advertises (<link rel="hub">, JSON Feed "hubs")
    self_url: str | None = None  # the feed's own URL as it names it (rel="self"): the WebSub topic


def _html_parts(fragment: str, base_url: str) -> tuple[str, str, list[Attachment], list[str]]:
    """Absolute-URL HTML, plain text, attachments and images of a feed entry's content."""
    if not fragment.strip():
        return "", "", [], []
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except ParserError:
        return fragment, fragment, [], []
    root.make_links_absolute(base_url, handle_failures="ignore")
    images = list(dict.fromkeys(src for img in root.iter("img") if (src := img.get("src"))))
    html = "".join(
        lxml.html.tostring(child, encoding="unicode") if not isinstance(child, str) else child
        for child in root
    )
    html = (root.text or "") + html
    text = "\n".join(line.strip() for line in root.text_content().splitlines() if line.strip())
    return html, text, attachments_in(root), images


def _entry_date(entry: Any, zone: str, now: datetime | None) -> datetime | None:
    for key in ("published", "updated", "created"):
        raw = str(entry.get(key) or "")
        parsed = entry.get(f"{key}_parsed")
        # feedparser misreads Chinese date strings ("2024年05月03日" came out as November); ours first.
        if parsed and raw.isascii():
            return plausible(datetime.fromtimestamp(calendar.timegm(parsed), UTC), now)
        value = parse_date(raw, zone, now) if raw else None
        if value is not None:
            return value
    return None


def _make_entry(
    source_id: int,
    base_url: str,
    link: str,
    title: str,
    guid: str | None,
    content: str,
    summary: str,
    published_at: datetime | None,
    author: str | None,
    category: str | None,
    enclosures: list[Attachment],
) -> FeedEntry:
    html, text, attachments, images = _html_parts(content or summary, link or base_url)
    known = {a.url for a in attachments}
    attachments += [a for a in enclosures if a.url not in known]
    item = RawItem(
        source_id=source_id,
        url=link,
        title=" ".join(title.split()),
        html=html,
        text=text,
        guid=guid or None,
        summary=" ".join(_html_parts(summary, base_url)[1].split())[:160] or " ".join(text.split())[:160],
        author=author or None,
        category=category,
        published_at=published_at,
        date_source="feed" if published_at else "first_seen",
        attachments=attachments,
        images=images,
    )
    return FeedEntry(item, needs_full_text=not content and len(text) < FULL_TEXT_MIN_CHARS)


def _parse_json_feed(
    data: dict[str, Any], source_id: int, feed_url: str, zone: str, now: datetime | None
) -> ParsedFeed:
    hubs = [h for h in data.get("hubs") or [] if isinstance(h, dict) and h.get("url")]
    feed = ParsedFeed(
        title=str(data.get("title") or ""),
        hub_url=str(hubs[0]["url"]) if hubs else None,
        self_url=str(data.get("feed_url") or "") or None,
    )
    for entry in data.get("items") or []:
        link = urljoin(feed_url, str(entry.get("url") or entry.get("external_url") or ""))
        if not link:
            continue
        published = parse_date(str(entry.get("date_published") or ""), zone, now)
        authors = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
        tags = entry.get("tags") or []
        enclosures = [
            Attachment(name=str(a.get("title") or a.get("url")), url=urljoin(link, str(a["url"])))
            for a in entry.get("attachments") or []
            if a.get("url")
        ]
        feed.entries.append(
            _make_entry(
                source_id,
                feed_url,
                link,
                str(entry.get("title") or ""),
                str(entry.get("id") or "") or None,
                str(entry.get("content_html") or entry.get("content_text") or ""),
                str(entry.get("summary") or ""),
                published,
                str(authors[0].get("name")) if authors and isinstance(authors[0], dict) else None,
                str(tags[0]) if tags else None,
                enclosures,
            )
        )
    return feed


def parse_feed(
    body: bytes,
    source_id: int,
    feed_url: str,
    content_type: str | None = None,
    zone: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse RSS/Atom/JSON Feed bytes; raises FeedParseError for a malformed feed without entries."""
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise FeedParseError(f"invalid JSON feed: {exc}") from exc
        if isinstance(data, dict) and str(data.get("version", "")).startswith(_JSON_FEED_PREFIX):
            return _parse_json_feed(data, source_id, feed_url, zone, now)
        raise FeedParseError("JSON document is not a JSON Feed")
    headers = {"content-type": content_type} if content_type else None
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    problem = parsed.get("bozo_exception")
    # Entries salvaged from XML that is not well-formed may be cut short or mixed up: refuse them all.
    if isinstance(problem, SAXException) or (not parsed.entries and (parsed.bozo or not parsed.version)):
        raise FeedParseError(f"malformed feed: {problem or 'not a feed'}")
    links = {str(link.get("rel")): str(link.get("href")) for link in reversed(parsed.feed.get("links") or [])}
    feed = ParsedFeed(
        title=str(parsed.feed.get("title", "")), hub_url=links.get("hub"), self_url=links.get("self")
    )
    for entry in parsed.entries:
        link = urljoin(feed_url, entry.get("link") or "")
        if not entry.get("link"):
            continue
        contents = entry.get("content") or []
        enclosures = [
            Attachment(
                name=str(e.get("title") or e.get("href", "").rsplit("/", 1)[-1]), url=urljoin(link, e["href"])
            )
            for e in entry.get("enclosures") or []
            if e.get("href") and not str(e.get("type", "")).startswith("image/")
        ]
        tags = entry.get("tags") or []
        feed.entries.append(
            _make_entry(
                source_id,
                feed_url,
                link,
                str(entry.get("title") or ""),
                entry.get("id"),
                str(contents[0].get("value", "")) if contents else "",
                str(entry.get("summary") or ""),
                _entry_date(entry, zone, now),
                entry.get("author"),
                str(tags[0].get("term")) if tags else None,
                enclosures,
            )
        )
    return feed
