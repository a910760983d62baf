"""RSS 2.0 and Atom feeds of the sample sites, and the broken feed of a `malformed_xml` site."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from email.utils import format_datetime
from html import escape

from samplenet.model import FEED_SIZE, SampleItem, SampleSite
from samplenet.render_html import body_html, site_url


def _summary(item: SampleItem) -> str:
    return item.paragraphs[0] if item.paragraphs else ""


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def newest(items: list[SampleItem]) -> datetime | None:
    """Publication time of the newest item (the feed's Last-Modified)."""
    return max((item.published_at for item in items), default=None)


def rss_feed(site: SampleSite, items: list[SampleItem], base: str) -> bytes:
    """RSS 2.0 with a summary in <description> and the full body in <content:encoded>, in the site's
    feed encoding (UTF-8, or GBK for some benchmark feeds; the XML declaration says which)."""
    home = site_url(base, site)
    entries = []
    for item in items[:FEED_SIZE]:
        link = home + item.article_path
        entries.append(
            "<item>\n"
            f"<title>{escape(item.title)}</title>\n<link>{escape(link)}</link>\n"
            f'<guid isPermaLink="true">{escape(link)}</guid>\n'
            f"<pubDate>{format_datetime(item.published_at)}</pubDate>\n"
            f"<category>{escape(item.category)}</category>\n<dc:creator>{escape(item.author)}</dc:creator>\n"
            f"<description>{escape(_summary(item))}</description>\n"
            f"<content:encoded>{_cdata(body_html(item, home))}</content:encoded>\n"
            "</item>"
        )
    updated = newest(items)
    build = f"<lastBuildDate>{format_datetime(updated)}</lastBuildDate>\n" if updated else ""
    text = (
        f'<?xml version="1.0" encoding="{site.feed_encoding}"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{escape(site.name)} {escape(site.category)}</title>\n<link>{escape(home)}</link>\n"
        f'<atom:link href="{escape(base + site.source_path)}" rel="self" type="application/rss+xml"/>\n'
        f"<description>{escape(site.name)}发布的{escape(site.category)}</description>\n"
        f"<language>zh-cn</language>\n{build}" + "\n".join(entries) + "\n</channel>\n</rss>\n"
    )
    return text.encode(site.feed_encoding)


def atom_feed(site: SampleSite, items: list[SampleItem], base: str) -> bytes:
    """Atom 1.0 with <summary> and HTML <content>."""
    home = site_url(base, site)
    entries = []
    for item in items[:FEED_SIZE]:
        link = home + item.article_path
        stamp = item.published_at.isoformat()
        entries.append(
            "<entry>\n"
            f"<title>{escape(item.title)}</title>\n"
            f'<link rel="alternate" type="text/html" href="{escape(link)}"/>\n'
            f"<id>{escape(link)}</id>\n<published>{stamp}</published>\n<updated>{stamp}</updated>\n"
            f"<author><name>{escape(item.author)}</name></author>\n"
            f'<category term="{escape(item.category)}"/>\n'
            f"<summary>{escape(_summary(item))}</summary>\n"
            f'<content type="html">{escape(body_html(item, home))}</content>\n'
            "</entry>"
        )
    updated = newest(items)
    text = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">\n'
        f"<title>{escape(site.name)} {escape(site.category)}</title>\n"
        f'<link rel="alternate" type="text/html" href="{escape(home)}"/>\n'
        f'<link rel="self" type="application/atom+xml" href="{escape(base + site.source_path)}"/>\n'
        f"<id>{escape(home)}</id>\n<updated>{(updated.isoformat() if updated else '')}</updated>\n"
        + "\n".join(entries)
        + "\n</feed>\n"
    )
    return text.encode()


def malformed_feed(site: SampleSite, items: list[SampleItem], base: str) -> bytes:
    """An RSS feed broken the way hand-edited feeds break: a bare '&', a stray tag, and no end."""
    whole = rss_feed(site, items, base).decode()
    cut = whole[: max(len(whole) // 2, 200)]
    return (cut + "\n<item><title>关于 <b>紧急通知 & 安排</title>\n<link>未闭合").encode()


def mislabeled_feed(site: SampleSite, items: list[SampleItem], base: str) -> bytes:
    """The site's RSS feed in GBK bytes whose XML declaration says UTF-8 (served with charset=utf-8)."""
    gbk = rss_feed(replace(site, feed_encoding="gbk"), items, base)
    return gbk.replace(b'encoding="gbk"', b'encoding="utf-8"', 1)


def huge_feed_chunks(site: SampleSite, items: list[SampleItem], base: str, size: int) -> Iterator[bytes]:
    """An RSS feed padded with an XML comment to ``size`` bytes, in 64 KiB chunks (nothing held whole)."""
    feed = rss_feed(site, items, base)
    head, tail = feed[: feed.index(b"<channel>")], feed[feed.index(b"<channel>") :]
    yield head + b"<!-- "
    padding = max(size - len(feed) - 9, 0)
    block = b" " * 65536
    while padding > 0:
        yield block[: min(padding, len(block))]
        padding -= len(block)
    yield b" -->" + tail


def gzip_bomb(site: SampleSite, items: list[SampleItem], base: str, size: int) -> bytes:
    """The site's feed gzip-compressed with ``size`` bytes of padding: tiny on the wire, huge inflated."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    parts = [packer.compress(chunk) for chunk in huge_feed_chunks(site, items, base, size)]
    return b"".join(parts) + packer.flush()


def rdf_feed(site: SampleSite, items: list[SampleItem], base: str) -> bytes:
    """RSS 1.0 (RDF): items beside the channel, dc:date and dc:creator, the body in <content:encoded>."""
    home = site_url(base, site)
    entries = []
    for item in items[:FEED_SIZE]:
        link = home + item.article_path
        entries.append(
            f'<item rdf:about="{escape(link)}">\n'
            f"<title>{escape(item.title)}</title>\n<link>{escape(link)}</link>\n"
            f"<dc:date>{item.published_at.isoformat()}</dc:date>\n"
            f"<dc:creator>{escape(item.author)}</dc:creator>\n<dc:subject>{escape(item.category)}</dc:subject>\n"
            f"<description>{escape(_summary(item))}</description>\n"
            f"<content:encoded>{_cdata(body_html(item, home))}</content:encoded>\n"
            "</item>"
        )
    resources = "".join(
        f'<rdf:li rdf:resource="{escape(home + i.article_path)}"/>' for i in items[:FEED_SIZE]
    )
    text = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">\n'
        f'<channel rdf:about="{escape(base + site.source_path)}">\n'
        f"<title>{escape(site.name)} {escape(site.category)}</title>\n<link>{escape(home)}</link>\n"
        f"<description>{escape(site.name)}发布的{escape(site.category)}</description>\n"
        f"<items><rdf:Seq>{resources}</rdf:Seq></items>\n</channel>\n" + "\n".join(entries) + "\n</rdf:RDF>\n"
    )
    return text.encode()
