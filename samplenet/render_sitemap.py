"""Sitemaps and robots.txt of the sample network: every site has sitemap.xml; sitemap-only sites
have an index (sitemap_index.xml) of two sitemaps, all with ``lastmod``."""

from __future__ import annotations

from html import escape

from samplenet.model import SampleItem, SampleNetwork, SampleSite
from samplenet.render_html import site_url

_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
INDEX_PARTS = 2  # sitemap-1.xml, sitemap-2.xml


def urlset(base: str, site: SampleSite, items: list[SampleItem]) -> bytes:
    """A <urlset> of the items' article pages."""
    home = site_url(base, site)
    urls = "".join(
        f"<url><loc>{escape(home + item.article_path)}</loc>"
        f"<lastmod>{item.lastmod.isoformat(timespec='seconds')}</lastmod></url>\n"
        for item in items
    )
    return f"{_HEAD}<urlset {_NS}>\n{urls}</urlset>\n".encode()


def part(items: list[SampleItem], number: int) -> list[SampleItem]:
    """The items of sitemap-<number>.xml (1-based): the newer half, then the older one."""
    size = -(-len(items) // INDEX_PARTS)
    return items[(number - 1) * size : number * size]


def index(base: str, site: SampleSite, items: list[SampleItem]) -> bytes:
    """A <sitemapindex> of sitemap-1.xml and sitemap-2.xml, each with its newest lastmod."""
    home = site_url(base, site)
    rows = []
    for number in range(1, INDEX_PARTS + 1):
        chunk = part(items, number)
        lastmod = max((item.lastmod for item in chunk), default=None)
        stamp = f"<lastmod>{lastmod.isoformat(timespec='seconds')}</lastmod>" if lastmod else ""
        rows.append(f"<sitemap><loc>{escape(home)}sitemap-{number}.xml</loc>{stamp}</sitemap>\n")
    return f"{_HEAD}<sitemapindex {_NS}>\n{''.join(rows)}</sitemapindex>\n".encode()


def robots(network: SampleNetwork, base: str) -> str:
    """The host's robots.txt: allow all but the sites of a ``robots_disallow`` fault, and a Sitemap: line
    per site (sites share this host)."""
    closed = [f"Disallow: {site.root_path}" for site in network.sites if site.fault == "robots_disallow"]
    lines = ["User-agent: *", *closed, "Allow: /", ""]
    for site in network.sites:
        if site.template == "account":
            continue
        name = "sitemap_index.xml" if site.template == "sitemap" else "sitemap.xml"
        lines.append(f"Sitemap: {site_url(base, site)}{name}")
    return "\n".join(lines) + "\n"
