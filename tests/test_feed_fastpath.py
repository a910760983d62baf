"""The lxml fast path reads feeds exactly as feedparser does; what it declines still parses.

Every comparison parses the same bytes twice — fast path, then ``fast=False`` (feedparser) — and
compares the RawItems field by field.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from crawlers.dates import FLAG_FUTURE
from crawlers.feeddecode import decode_feed
from crawlers.feeds import FeedParseError, ParsedFeed, parse_feed
from crawlers.feedxml import read_feed
from samplenet import render_bridge, render_feeds
from samplenet.generate import generate_network
from samplenet.model import SampleSite

BASE = "http://127.0.0.1:8000"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
FEED_URL = "http://www.example.gov.cn/news/rss.xml"


def _parse(body: bytes, content_type: str | None, fast: bool, url: str = FEED_URL) -> ParsedFeed:
    return parse_feed(body, 7, url, content_type, now=NOW, fast=fast)


def assert_same(body: bytes, content_type: str | None = None, url: str = FEED_URL) -> ParsedFeed:
    """Both paths give equal feeds (entry by entry, field by field); returns the fast one."""
    fast, slow = _parse(body, content_type, True, url), _parse(body, content_type, False, url)
    assert (fast.title, fast.hub_url, fast.self_url) == (slow.title, slow.hub_url, slow.self_url)
    assert len(fast.entries) == len(slow.entries)
    for mine, theirs in zip(fast.entries, slow.entries, strict=True):
        assert mine.needs_full_text == theirs.needs_full_text
        for name in (f.name for f in dataclasses.fields(mine.item)):
            assert getattr(mine.item, name) == getattr(theirs.item, name), name
    return fast


def takes_fast_path(body: bytes, content_type: str | None = None) -> bool:
    return read_feed(decode_feed(body, content_type).data) is not None


@pytest.fixture(scope="module")
def sites() -> list[SampleSite]:
    network = generate_network(2, 4, seed=11, today=datetime(2029, 12, 20).date())
    return [site for site in network.sites if site.items][:8]


def _gbk(body: bytes, declared: str) -> bytes:
    return body.decode().replace('encoding="utf-8"', f'encoding="{declared}"').encode("gbk")


FLAVOURS = {
    "rss": lambda s: (render_feeds.rss_feed(s, s.items, BASE), "application/rss+xml; charset=utf-8"),
    "atom": lambda s: (render_feeds.atom_feed(s, s.items, BASE), "application/atom+xml; charset=utf-8"),
    "rss1.0": lambda s: (render_feeds.rdf_feed(s, s.items, BASE), "application/rdf+xml"),
    "account bridge": lambda s: (render_bridge.bridge_feed(s, s.items, BASE), "application/rss+xml"),
    "gbk": lambda s: (
        _gbk(render_feeds.rss_feed(s, s.items, BASE), "gbk"),
        "application/rss+xml; charset=GBK",
    ),
    "gbk labelled utf-8": lambda s: (
        _gbk(render_feeds.rss_feed(s, s.items, BASE), "gb2312"),
        "text/xml; charset=utf-8",
    ),
    "gbk without labels": lambda s: (
        render_feeds.rss_feed(s, s.items, BASE).decode().replace(' encoding="utf-8"', "").encode("gb18030"),
        "application/xml",
    ),
}


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_sample_feed_flavours_read_alike(flavour: str, sites: list[SampleSite]) -> None:
    for site in sites:
        body, content_type = FLAVOURS[flavour](site)
        assert takes_fast_path(body, content_type)
        feed = assert_same(body, content_type, BASE + site.source_path)
        assert [entry.item.title for entry in feed.entries] == [item.title for item in site.items[:20]]
        first = feed.entries[0].item
        assert site.items[0].paragraphs[0] in first.text  # decoded, not mojibake
        assert first.published_at == site.items[0].published_at.astimezone(UTC)
        assert [a.url for a in first.attachments] == [
            f"{BASE}{site.root_path}{a.path}" for a in site.items[0].attachments
        ]


RSS_EDGES = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xml:base="http://www.example.gov.cn/news/"
 xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:atom="http://www.w3.org/2005/Atom" xmlns:slash="http://purl.org/rss/1.0/modules/slash/">
<channel><title>  某区 &amp; 政府  </title><link>http://www.example.gov.cn/</link>
<atom:link rel="hub" href="http://hub.example.org/"/><atom:link rel="self" href="rss.xml"/>
<image><title>图标</title><url>logo.png</url><link>/</link></image>
<item xml:base="sub/"><title>A &amp; B &#20013;文 <![CDATA[<b>粗</b>]]></title>
<link> 1.html?a=1&amp;b=2 </link><guid>1.html</guid>
<description>&lt;p&gt;摘要&amp;nbsp;&amp;lt;b&amp;gt;
 &lt;a href="f/plan.pdf"&gt;方案&lt;/a&gt;&lt;/p&gt;</description>
<enclosure url="files/x.docx" type="application/msword" length="10"/>
<enclosure url="img/y.jpg" type="image/jpeg" length="3"/>
<category domain="http://x/">通知公告</category><category>党建</category><category domain="d"></category>
<comments>c.html</comments><slash:comments>3</slash:comments>
<pubDate>Tue, 07 May 2024 09:30:00 GMT</pubDate></item>
<item><title></title><title>第二个标题</title><guid isPermaLink="true">http://www.example.gov.cn/2.html</guid>
<dc:creator> 张三 </dc:creator><dc:date>2024-05-06T09:30:00+08:00</dc:date>
<content:encoded><![CDATA[<p>正文 <img src="/i/a.png"> <a href='rel/b.xlsx'>表</a></p>]]></content:encoded>
<description>后来的摘要</description></item>
<item><title>无链接</title><guid isPermaLink="false">urn:x:3</guid>
<pubDate>2024年05月03日 10:00</pubDate></item>
<item><title>空链接</title><link></link><guid>http://e/6.html</guid></item>
<item><title>Ã©tÃ©</title><guid>http://e/4.html</guid>
<pubDate>Mon, 6 May 2024 09:30:00 +0800</pubDate><author>office@example.gov.cn (办公室)</author></item>
<item><Title>Upper &#147;q&#148;</Title><LINK>http://e/5.html</LINK>
<pubDate>Sun, 31 Apr 2024 09:30:00 +0800</pubDate>
<content:encoded>短</content:encoded><description>&lt;p&gt;在正文之后&lt;/p&gt;</description></item>
</channel></rss>""".encode()

ATOM_EDGES = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://www.example.gov.cn/a/">
<title type="html">街道 &lt;b&gt;动态&lt;/b&gt;</title><link rel="self" href="atom.xml"/><id>urn:feed</id>
<entry><title>一</title><id>urn:uuid:1</id><link href="1.html"/>
<link rel="enclosure" href="f/1.pdf" type="application/pdf" title="附件一"/>
<link rel="alternate" type="application/pdf" href="1.pdf"/>
<author><name>王丽</name><email>w@example.gov.cn</email></author>
<category term="通知" scheme="s"/><published>2024-05-06T01:30:00Z</published>
<content type="html">&lt;p&gt;内容 &lt;a href="x.zip"&gt;包&lt;/a&gt;&lt;/p&gt;</content>
<summary>后摘要</summary></entry>
<entry><title type="text">二</title><id>http://www.example.gov.cn/a/2.html</id>
<updated>2024-05-07T09:00:00+08:00</updated><author><name>李强</name><uri>http://x/</uri></author>
<summary>只有摘要</summary></entry>
<entry xml:base="http://other.example.org/b/"><title>三</title><link rel="alternate" href="3.html"/>
<id>urn:3</id><updated>not a date</updated><content>纯文本 &lt;内容&gt;</content></entry>
</feed>""".encode()

DECLINED = {
    "xhtml content": ATOM_EDGES.replace(
        b"<content>\xe7\xba\xaf",
        b'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">\xe7\xba\xaf',
    ).replace(b"&lt;\xe5\x86\x85\xe5\xae\xb9&gt;</content>", b"</div></content>"),
    "rss source element": RSS_EDGES.replace(b"<comments>", b'<source url="http://s/">S</source><comments>'),
    "two authors": RSS_EDGES.replace(b"<dc:creator>", b"<author>a@b.cn</author><dc:creator>"),
    "media title": RSS_EDGES.replace(
        b"<comments>", b'<media:title xmlns:media="http://search.yahoo.com/mrss/">M</media:title><comments>'
    ),
    "doctype": RSS_EDGES.replace(
        b"<rss ",
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "rss-0.91.dtd">\n<rss ',
        1,
    ),
    "markup in title": RSS_EDGES.replace(b"<title></title>", b"<title>x<b>y</b></title>"),
}


def test_edge_cases_read_alike_on_the_fast_path() -> None:
    assert takes_fast_path(RSS_EDGES) and takes_fast_path(ATOM_EDGES)
    rss = assert_same(RSS_EDGES, "application/rss+xml")
    assert [e.item.url for e in rss.entries] == [
        "http://www.example.gov.cn/news/sub/1.html?a=1&b=2",
        "http://www.example.gov.cn/2.html",  # guid as link; "无链接" has none and an empty <link> wins
        "http://e/4.html",
        "http://e/5.html",
    ]
    first = rss.entries[0].item
    assert first.title == "A & B 中文 <b>粗</b>" and first.category == "通知公告"
    assert [a.url for a in first.attachments] == [
        "http://www.example.gov.cn/news/sub/f/plan.pdf",
        "http://www.example.gov.cn/news/sub/files/x.docx",
    ]
    assert rss.hub_url == "http://hub.example.org/" and rss.title == "某区 & 政府"
    second = rss.entries[1].item
    assert second.images == ["http://www.example.gov.cn/i/a.png"] and second.author == "张三"
    assert second.summary == "后来的摘要"
    # feedparser's repairs: UTF-8 read as Latin-1, cp1252 quotes in the C1 range
    assert [rss.entries[2].item.title, rss.entries[3].item.title] == ["été", "Upper “q”"]
    atom = assert_same(ATOM_EDGES, "application/atom+xml")
    assert [e.item.url for e in atom.entries] == [
        "http://www.example.gov.cn/a/1.html",
        "http://www.example.gov.cn/a/2.html",
        "http://other.example.org/b/3.html",
    ]
    assert atom.entries[0].item.author == "王丽 (w@example.gov.cn)"
    assert [a.name for a in atom.entries[0].item.attachments] == ["包", "附件一"]


@pytest.mark.parametrize("case", sorted(DECLINED))
def test_unusual_feeds_go_to_feedparser_and_read_alike(case: str) -> None:
    body = DECLINED[case]
    assert not takes_fast_path(body)
    assert assert_same(body).entries


@pytest.mark.parametrize(
    "body",
    [
        RSS_EDGES[: len(RSS_EDGES) // 2],  # cut off
        RSS_EDGES.replace(b"&amp; B", b"& B"),  # a bare ampersand
        RSS_EDGES.replace(b"&#20013;", b"&nbsp;"),  # an HTML entity XML does not know
        b"<html><body><p>not a feed</p></body></html>",
        b"<?xml version='1.0'?><catalog><book/></catalog>",
    ],
)
def test_malformed_or_unknown_documents_fail_clearly_on_both_paths(body: bytes) -> None:
    assert not takes_fast_path(body)
    for fast in (True, False):
        with pytest.raises(FeedParseError):
            _parse(body, "application/rss+xml", fast)


def test_rfc822_shortcut_agrees_with_feedparser_dates() -> None:
    from feedparser.datetimes import _parse_date

    from crawlers.feedxml import _date

    moment = datetime(2021, 1, 1, tzinfo=UTC)
    for step in range(400):
        when = moment + timedelta(days=step * 3, hours=step % 24, minutes=step % 60, seconds=step % 7)
        for zone in ("+0800", "-0530", "+0000"):
            raw = when.strftime("%a, %d %b %Y %H:%M:%S ") + zone
            assert _date(raw) == _parse_date(raw), raw


def _future_feed(when: datetime) -> bytes:
    stamp = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>未来</title>'
        f"<link>http://e/1.html</link><pubDate>{stamp}</pubDate></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize("fast", [True, False])
def test_future_dates_are_clamped_and_flagged(fast: bool) -> None:
    [entry] = _parse(_future_feed(NOW + timedelta(days=30)), None, fast).entries
    assert (entry.item.published_at, entry.item.date_source, entry.item.date_flag) == (
        NOW,
        "feed",
        FLAG_FUTURE,
    )
    [skewed] = _parse(_future_feed(NOW + timedelta(minutes=2)), None, fast).entries
    assert (skewed.item.published_at, skewed.item.date_flag) == (NOW, None)  # clock skew: clamped only
    [past] = _parse(_future_feed(NOW - timedelta(days=1)), None, fast).entries
    assert (past.item.published_at, past.item.date_flag) == (NOW - timedelta(days=1), None)


def test_json_feed_future_date_is_clamped_and_flagged() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "url": "/1.html",'
        b' "title": "t", "content_text": "x", "date_published": "2031-01-01T00:00:00Z"}]}'
    )
    [entry] = _parse(body, None, True).entries
    assert (entry.item.published_at, entry.item.date_flag) == (NOW, FLAG_FUTURE)
