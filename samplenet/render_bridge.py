"""The account bridge: Weibo and WeChat accounts as RSSHub-style RSS 2.0 with full HTML in <description>."""

from __future__ import annotations

from email.utils import format_datetime
from html import escape

from samplenet.model import FEED_SIZE, SampleItem, SampleSite
from samplenet.render_html import body_html, site_url

_PLATFORM_TITLES = {"weibo": "{name}的微博", "wechat": "{name} 微信公众号"}


def bridge_feed(site: SampleSite, items: list[SampleItem], base: str) -> bytes:
    """One account's posts, newest first, as RSSHub renders them."""
    platform = site.platform or "weibo"
    home = site_url(base, site)
    title = _PLATFORM_TITLES[platform].format(name=site.name)
    entries = []
    for item in items[:FEED_SIZE]:
        link = home + item.article_path
        entries.append(
            "<item>\n"
            f"<title>{escape(item.title)}</title>\n"
            f"<description><![CDATA[<h3>{escape(item.title)}</h3>{body_html(item, home)}]]></description>\n"
            f"<pubDate>{format_datetime(item.published_at)}</pubDate>\n"
            f'<guid isPermaLink="false">{escape(platform)}:{escape(site.account or "")}:'
            f"{item.item_id}</guid>\n"
            f"<link>{escape(link)}</link>\n<author>{escape(site.name)}</author>\n"
            "</item>"
        )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">\n<channel>\n'
        f"<title>{escape(title)}</title>\n"
        f"<link>{escape(home)}</link>\n"
        f"<description>{escape(title)} - Powered by RSSHub</description>\n"
        "<generator>RSSHub</generator>\n<language>zh-cn</language>\n"
        + "\n".join(entries)
        + "\n</channel>\n</rss>\n"
    )
    return text.encode()
