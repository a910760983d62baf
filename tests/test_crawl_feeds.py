"""Feeds → RawItems: RSS 2.0, Atom, JSON Feed, Chinese dates, teasers, malformed feeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crawlers.feeds import FeedParseError, parse_feed

FEED_URL = "http://www.example.gov.cn/rss.xml"
LONG = "各单位要认真组织学习，确保取得实效。" * 20

RSS = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>某某区政府</title><link>http://www.example.gov.cn/</link>
<item><title>关于开展党建工作的通知</title><link>/xwzx/1.html</link><guid>n-1</guid>
<pubDate>Mon, 06 May 2024 09:30:00 +0800</pubDate><category>通知公告</category>
<description>简短摘要</description>
<content:encoded><![CDATA[<p>{LONG}</p><p><img src="/img/a.jpg"></p>
<p><a href="/f/plan.pdf">实施方案</a></p>]]></content:encoded>
<enclosure url="http://www.example.gov.cn/f/form.doc" type="application/msword" length="1"/>
</item>
<item><title>区政府召开常务会议</title><link>http://www.example.gov.cn/xwzx/2.html</link>
<pubDate>2024年05月03日 10:00</pubDate><description>会议研究了近期工作。</description></item>
</channel></rss>""".encode()

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>某某街道</title>
<entry><title>社区开展志愿服务活动</title><id>urn:x:1</id>
<link href="http://www.example.gov.cn/a/3.html"/><updated>2024-05-06T01:30:00Z</updated>
<content type="html">&lt;p&gt;活动内容&lt;/p&gt;</content></entry></feed>""".encode()


def test_rss_entries() -> None:
    feed = parse_feed(RSS, 3, FEED_URL, "application/rss+xml")
    assert feed.title == "某某区政府"
    first, second = feed.entries
    item = first.item
    assert (item.source_id, item.url, item.guid) == (3, "http://www.example.gov.cn/xwzx/1.html", "n-1")
    assert item.title == "关于开展党建工作的通知"
    assert (item.published_at, item.date_source) == (datetime(2024, 5, 6, 1, 30, tzinfo=UTC), "feed")
    assert item.category == "通知公告"
    assert [a.url for a in item.attachments] == [
        "http://www.example.gov.cn/f/plan.pdf",
        "http://www.example.gov.cn/f/form.doc",
    ]
    assert item.images == ["http://www.example.gov.cn/img/a.jpg"]
    assert item.summary == "简短摘要"
    assert not first.needs_full_text
    # A Chinese pubDate that feedparser cannot read is parsed by our date parser.
    assert second.item.published_at == datetime(2024, 5, 3, 2, 0, tzinfo=UTC)
    assert second.needs_full_text  # only a one-line description


def test_atom_entries() -> None:
    [entry] = parse_feed(ATOM, 1, FEED_URL).entries
    assert entry.item.title == "社区开展志愿服务活动"
    assert entry.item.published_at == datetime(2024, 5, 6, 1, 30, tzinfo=UTC)
    assert "活动内容" in entry.item.text and entry.item.guid == "urn:x:1"


def test_json_feed() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "某某社区",
            "items": [
                {
                    "id": "7",
                    "url": "/n/7.html",
                    "title": "停水通知",
                    "content_html": f"<p>{LONG}</p>",
                    "date_published": "2024-05-06T09:30:00+08:00",
                }
            ],
        },
        ensure_ascii=False,
    ).encode()
    [entry] = parse_feed(body, 1, FEED_URL).entries
    assert entry.item.url == "http://www.example.gov.cn/n/7.html"
    assert entry.item.published_at == datetime(2024, 5, 6, 1, 30, tzinfo=UTC)
    assert not entry.needs_full_text


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>not a feed</body></html>",
        RSS[: len(RSS) // 2] + "<item><title>紧急 & 通知</title><link>未闭合".encode(),
        b"{not json",
    ],
)
def test_malformed_feeds_are_parse_errors(body: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse_feed(body, 1, FEED_URL)
