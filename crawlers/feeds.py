"""Feed bytes → RawItems (docs/architecture.md step 4): RSS 0.9x/1.0/2.0 and Atom, JSON Feed by hand.

Bytes are decoded first (crawlers/feeddecode.py). Well-formed RSS and Atom are read by the lxml fast
path (crawlers/feedxml.py); whatever it declines goes to feedparser, and both fill the same fields
(crawlers/feedfields.py), so the choice never changes an item. Entries whose body is only a short
summary are marked for a full-text fetch, which the source's option may force or forbid
(``wants_full_text``, hub/fulltextmode.py). A date in the future is clamped to now and flagged.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin
from xml.sax import SAXException

import feedparser

from crawlers.dates import clamp_future, parse_date, plausible
from crawlers.feeddecode import FeedEncodingError, decode_feed
from crawlers.feedfields import DATE_KEYS, EntryFields, FeedFields, from_feedparser
from crawlers.feedhtml import fragment_text, html_parts, plain_absolute
from crawlers.feedxml import read_feed
from hub.fulltextmode import FullTextMode, full_text_mode
from hub.rawitem import Attachment, RawItem

# Below this many characters of body text an entry is treated as a teaser and its page is fetched.
FULL_TEXT_MIN_CHARS = 200
_JSON_FEED_PREFIX = "https://jsonfeed.org/version/"
# JSON may escape a lone UTF-16 surrogate ("\ud800"): json.loads keeps it, and no store can encode it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class FeedParseError(ValueError):
    """The bytes are not a usable feed (malformed and no entries)."""

    kind = "parse_error"  # the outcome's error kind (hub/crawlrecord.py ERROR_KINDS)


class FeedEncodingFailure(FeedParseError):
    """No declared or detected charset reads the feed's bytes."""

    kind = "encoding"


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
    ttl: str | None = None  # RSS <ttl> in minutes, as written (hub/schedule/headers.py reads it)


def source_full_text_mode(selectors: dict[str, Any], account: bool) -> FullTextMode:
    """The source's full-text option (ValueError if unknown); accounts never fetch pages: the bridge
    links to the platform (weibo.com, mp.weixin.qq.com), and their text is in the feed."""
    return "never" if account else full_text_mode(selectors)


def wants_full_text(entry: FeedEntry, mode: FullTextMode) -> bool:
    """Whether the entry's linked page is fetched for its full text under the source's option."""
    return mode == "always" or (mode == "auto" and entry.needs_full_text)


def _timestamp(parsed: time.struct_time) -> datetime | None:
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (ValueError, OverflowError, OSError):  # feedparser read "0000000" as year 0, or year 10000
        return None


def _entry_date(
    dates: dict[str, tuple[str, time.struct_time | None]], zone: str, now: datetime | None
) -> datetime | None:
    for key in DATE_KEYS:
        raw, parsed = dates.get(key, ("", None))
        # feedparser misreads Chinese date strings ("2024年05月03日" came out as November); ours first.
        stamp = _timestamp(parsed) if parsed and raw.isascii() else None
        if stamp is not None:
            return plausible(stamp, now, keep_future=True)
        value = parse_date(raw, zone, now, keep_future=True) if raw else None
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
    now: datetime | None = None,
) -> FeedEntry:
    html, text, attachments, images = html_parts(content or summary, link or base_url)
    known = {a.url for a in attachments}
    attachments += [a for a in enclosures if a.url not in known]
    flag = None
    if published_at is not None:  # a date in the future is clamped to now and flagged
        published_at, flag = clamp_future(published_at, now)
    # Without content the summary was the fragment just parsed: its text is already known.
    teaser = " ".join((fragment_text(summary) if content else text).split())[:160]
    item = RawItem(
        source_id=source_id,
        url=link,
        title=" ".join(title.split()),
        html=html,
        text=text,
        guid=guid or None,
        summary=teaser or " ".join(text.split())[:160],
        author=author or None,
        category=category,
        published_at=published_at,
        date_source="feed" if published_at else "first_seen",
        date_flag=flag,
        attachments=attachments,
        images=images,
    )
    return FeedEntry(item, needs_full_text=not content and len(text) < FULL_TEXT_MIN_CHARS)


def _entry_from_fields(
    fields: EntryFields, source_id: int, feed_url: str, zone: str, now: datetime | None
) -> FeedEntry | None:
    link = _joined(feed_url, fields.link) if fields.link else None
    if not link:
        return None
    enclosures = [
        Attachment(name=str(e.title or e.href.rsplit("/", 1)[-1]), url=url)
        for e in fields.enclosures
        if not e.type.startswith("image/") and (url := _joined(link, e.href))
    ]
    return _make_entry(
        source_id,
        feed_url,
        link,
        fields.title,
        fields.guid,
        fields.content,
        fields.summary,
        _entry_date(fields.dates, zone, now),
        fields.author,
        fields.category,
        enclosures,
        now,
    )


def _without_lone_surrogates(value: Any) -> Any:
    """A JSON value with every lone surrogate in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def _joined(base: str, href: str) -> str | None:
    """``href`` made absolute against ``base``; None when it is no URL at all ("http://[")."""
    if plain_absolute(href):
        return href
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def _objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of a list value; anything else (a feed may put any type anywhere) is none."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _parse_json_feed(
    data: dict[str, Any], source_id: int, feed_url: str, zone: str, now: datetime | None
) -> ParsedFeed:
    hubs = [h for h in _objects(data.get("hubs")) if h.get("url")]
    feed = ParsedFeed(
        title=str(data.get("title") or ""),
        hub_url=str(hubs[0]["url"]) if hubs else None,
        self_url=str(data.get("feed_url") or "") or None,
    )
    for entry in _objects(data.get("items")):
        link = _joined(feed_url, str(entry.get("url") or entry.get("external_url") or ""))
        if not link:
            continue
        published = parse_date(str(entry.get("date_published") or ""), zone, now, keep_future=True)
        authors = _objects(entry.get("authors")) or _objects([entry.get("author")])
        tags = entry.get("tags") if isinstance(entry.get("tags"), list) else []
        enclosures = [
            Attachment(name=str(a.get("title") or a.get("url")), url=url)
            for a in _objects(entry.get("attachments"))
            if a.get("url") and (url := _joined(link, str(a["url"])))
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
                str(authors[0].get("name")) if authors else None,
                str(tags[0]) if tags else None,
                enclosures,
                now,
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
    fast: bool = True,
) -> ParsedFeed:
    """Parse RSS/Atom/JSON Feed bytes; raises FeedParseError for a malformed feed without entries.

    ``fast=False`` skips the lxml fast path (tests compare the two paths).
    """
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        try:
            data = json.loads(stripped)
            if _SURROGATE_ESCAPE.search(stripped):  # rare: only then is every string looked at
                data = _without_lone_surrogates(data)
        except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested past the limit
            raise FeedParseError(f"invalid JSON feed: {exc}") from exc
        if isinstance(data, dict) and str(data.get("version", "")).startswith(_JSON_FEED_PREFIX):
            return _parse_json_feed(data, source_id, feed_url, zone, now)
        raise FeedParseError("JSON document is not a JSON Feed")
    try:
        decoded = decode_feed(body, content_type)
    except FeedEncodingError as exc:
        raise FeedEncodingFailure(str(exc)) from exc
    fields = read_feed(decoded.data) if fast else None
    if fields is None:
        fields = _read_with_feedparser(decoded.data, content_type)
    feed = ParsedFeed(title=fields.title, hub_url=fields.hub_url, self_url=fields.self_url, ttl=fields.ttl)
    for entry_fields in fields.entries:
        entry = _entry_from_fields(entry_fields, source_id, feed_url, zone, now)
        if entry is not None:
            feed.entries.append(entry)
    return feed


def _read_with_feedparser(data: bytes, content_type: str | None) -> FeedFields:
    """The slow path: feedparser reads what the fast path declines (it salvages more, too)."""
    media_type = (content_type or "application/xml").split(";", 1)[0].strip() or "application/xml"
    headers = {"content-type": f"{media_type}; charset=utf-8"}  # decode_feed made the bytes UTF-8
    parsed = feedparser.parse(
        data, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    problem = parsed.get("bozo_exception")
    # Entries salvaged from XML that is not well-formed may be cut short or mixed up: refuse them all.
    # .get: an empty document's result has no "version" at all.
    empty = not parsed.entries and (parsed.bozo or not parsed.get("version"))
    if isinstance(problem, SAXException) or empty:
        raise FeedParseError(f"malformed feed: {problem or 'not a feed'}")
    return from_feedparser(parsed)
