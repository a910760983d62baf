"""Fuzzing the feed reader (crawlers/feeds.py: RSS, Atom, JSON Feed; both XML paths).

A feed is untrusted bytes: garbage, truncated or malformed XML, hostile entry HTML, JSON of any
shape, any charset label. The reader either returns entries or raises FeedParseError, the one error
type the spider records as a parse error; nothing else escapes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from hypothesis import example, given
from hypothesis import strategies as st

from crawlers.feeds import FeedParseError, ParsedFeed, parse_feed
from tests.fuzzing import fuzz

NOW = datetime(2024, 6, 1, tzinfo=UTC)
FEED_URL = "http://www.a.gov.cn/rss.xml"
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/rss+xml", "application/atom+xml; charset=gbk", "text/xml; charset=utf-8",
            "application/json", "text/html; charset=punycode", "application/xml; charset=utf-16",
            "application/feed+json; charset=x-unknown", ";", "",
        ]
    ),
)  # fmt: skip
FIELD_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "2024-05-06 10:00", "Mon, 06 May 2024 10:00:00 +0800", "2024年5月6日",
            "9999-12-31T23:59:59-05:00", "0000000", "A://[", "\ud800", "x\udfffy", "&#xD800;", "&#0;",
            "<script>alert(1)</script>", "<p onclick=x>正文</p>", "javascript:alert(1)", "http://[::1",
            "/relative/1.html", "&amp;&lt;", "\x00", "]]>", "http://a.gov.cn/f.pdf", "\ufffe",
            "<p>x</p><base href='/d/'>\x01 tail", "<a href='r\ufffe'>l</a>",
        ]
    ),
)  # fmt: skip


@st.composite
def rss(draw: st.DrawFn) -> bytes:
    """An RSS 2.0 or Atom document with random field values, maybe truncated, in some encoding."""
    entries = []
    for _ in range(draw(st.integers(0, 4))):
        title, link, date, body, guid = (draw(FIELD_TEXT) for _ in range(5))
        href = escape(link, {'"': "&quot;"})
        cdata = draw(st.booleans())
        content = f"<![CDATA[{body}]]>" if cdata else escape(body)
        if draw(st.booleans()):
            entries.append(
                f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
                f"<pubDate>{escape(date)}</pubDate><guid>{escape(guid)}</guid>"
                f"<description>{content}</description>"
                f'<enclosure url="{href}" type="application/pdf"/></item>'
            )
        else:
            entries.append(
                f'<entry><title type="html">{escape(title)}</title><link href="{href}"/>'
                f"<updated>{escape(date)}</updated><id>{escape(guid)}</id>"
                f'<content type="html">{content}</content></entry>'
            )
    atom = draw(st.booleans())
    encoding = draw(st.sampled_from(["utf-8", "gbk", "utf-16", "latin-1"]))
    head = f'<?xml version="1.0" encoding="{draw(st.sampled_from([encoding, "utf-8", "gb2312", "bogus"]))}"?>'
    if atom:
        doc = f'{head}<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{"".join(entries)}</feed>'
    else:
        doc = f'{head}<rss version="2.0"><channel><title>t</title>{"".join(entries)}</channel></rss>'
    data = doc.encode(encoding, "replace")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | FIELD_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
_ENTRY_KEYS = ["id", "url", "external_url", "title", "content_html", "content_text", "summary",
               "date_published", "author", "authors", "tags", "attachments"]  # fmt: skip


@st.composite
def json_feeds(draw: st.DrawFn) -> bytes:
    """A JSON Feed whose known keys hold values of any type (lists where strings belong, ...)."""
    items = [
        draw(st.dictionaries(st.sampled_from(_ENTRY_KEYS), JSON_VALUES, max_size=8))
        if draw(st.booleans())
        else draw(JSON_VALUES)
        for _ in range(draw(st.integers(0, 3)))
    ]
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": draw(JSON_VALUES), "items": items}
    for key in ("hubs", "feed_url"):
        if draw(st.booleans()):
            feed[key] = draw(JSON_VALUES)
    if draw(st.booleans()):
        feed["items"] = draw(JSON_VALUES)
    return json.dumps(feed).encode()


FEED_BYTES = st.one_of(
    st.binary(max_size=800),
    rss(),
    json_feeds(),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
)


def _storable(value: object) -> None:
    """Every string a store will write encodes as UTF-8 (a lone surrogate does not)."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, list | tuple):
        for element in value:
            _storable(element)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            _storable(getattr(value, name))


def _check(feed: ParsedFeed) -> None:
    assert isinstance(feed.title, str)
    for entry in feed.entries:
        item = entry.item
        _storable(item)
        assert isinstance(item.url, str) and item.url
        assert isinstance(item.title, str) and "\n" not in item.title
        assert item.published_at is None or item.published_at <= NOW
        assert (item.date_flag is None) or item.published_at == NOW


@fuzz(300)
@given(FEED_BYTES, CONTENT_TYPES, st.booleans())
@example(b'{"version": "https://jsonfeed.org/version/1", "items": [1]}', None, True)
@example(b'{"version": "https://jsonfeed.org/version/1", "items": {"a": 1}}', None, True)
@example(b'{"version": "https://jsonfeed.org/version/1", "hubs": "x"}', None, True)
@example(
    b'{"version": "https://jsonfeed.org/version/1", "items": [{"url": "/1", "title": "\\ud800"}]}', None, True
)
@example(b'{"version": "https://jsonfeed.org/version/1", "items": ' + b"[" * 5000, None, True)
# lxml refused to write back a control character (JSON may carry any): a <base> tag's tail, an href.
@example(
    b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"url": "http://a.gov.cn/1", "title": "t",'
    b' "content_html": "<p>x</p><base href=\\"/d/\\">\\u0001 tail <a href=\\"r\\ufffe\\">l</a>"}]}',
    None,
    True,
)
@example(b"", None, False)  # feedparser's result for nothing has no "version" (AttributeError, fixed)
@example(b'<rss version="2.0"><channel><item><link>h://[</link></item></channel></rss>', None, False)
@example(b'<rss version="2.0"><channel><item><link>h://[</link></item></channel></rss>', None, True)
def test_parse_feed_returns_entries_or_feed_parse_error(
    body: bytes, content_type: str | None, fast: bool
) -> None:
    """Any bytes give a ParsedFeed (entries with a URL, a one-line title, no date after now, every
    string storable as UTF-8) or FeedParseError; on both XML paths (lxml fast path and feedparser).
    The examples raised AttributeError (JSON Feed items that are no objects; an empty document),
    ValueError (an entry link that is no URL) or RecursionError (JSON nested past the limit), or gave
    a title with a lone surrogate that no store could write, before."""
    try:
        feed = parse_feed(body, 1, FEED_URL, content_type, now=NOW, fast=fast)
    except FeedParseError:
        return
    _check(feed)


@fuzz()
@given(rss())
def test_both_xml_paths_agree_on_well_formed_feeds(body: bytes) -> None:
    """When both paths (lxml fast path, feedparser only) read a generated feed, they give the same
    entries: URL, title and date (a feedparser date of year 0 or 10000 raised ValueError before)."""
    results: list[list[tuple[str, str, datetime | None]] | None] = []
    for fast in (True, False):
        try:
            feed = parse_feed(body, 1, FEED_URL, None, now=NOW, fast=fast)
        except FeedParseError:
            results.append(None)
        else:
            results.append([(e.item.url, e.item.title, e.item.published_at) for e in feed.entries])
    if None not in results:
        assert results[0] == results[1]
