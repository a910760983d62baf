"""Sitemaps (docs/architecture.md step 4): where a site keeps them, and what they list.

A sitemap is a ``<urlset>`` of pages or a ``<sitemapindex>`` of further sitemaps, each ``<loc>`` with
an optional ``<lastmod>``. Sites name them in robots.txt (``Sitemap:`` lines) or keep them at common
locations. Parsing is lxml's recovering XML parser: real sitemaps carry stray bytes and odd namespaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree

COMMON_LOCATIONS = ("sitemap.xml", "sitemap_index.xml")


@dataclass(slots=True, frozen=True)
class SitemapLink:
    """One ``<loc>`` of a sitemap, with its ``<lastmod>`` as written (or None)."""

    url: str
    lastmod: str | None


@dataclass(slots=True)
class Sitemap:
    """A parsed sitemap: pages (urlset) or child sitemaps (sitemapindex)."""

    is_index: bool
    links: list[SitemapLink]


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def parse_sitemap(body: bytes, base_url: str) -> Sitemap | None:
    """The sitemap in ``body``, or None when the document is not a sitemap (an HTML page, say)."""
    head = body[:4096].lower()
    if b"<urlset" not in head and b"<sitemapindex" not in head:
        return None
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return None
    if root is None or _local(root.tag) not in ("urlset", "sitemapindex"):
        return None
    is_index = _local(root.tag) == "sitemapindex"
    links: list[SitemapLink] = []
    seen: set[str] = set()
    for entry in root:
        if _local(entry.tag) not in ("url", "sitemap"):
            continue
        fields = {_local(child.tag): (child.text or "").strip() for child in entry}
        loc = fields.get("loc")
        if not loc:
            continue
        url = urljoin(base_url, loc)
        if urlsplit(url).scheme in ("http", "https") and url not in seen:
            seen.add(url)
            links.append(SitemapLink(url, fields.get("lastmod") or None))
    return Sitemap(is_index, links)


def robots_sitemaps(robots_txt: str, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt, in order."""
    found: list[str] = []
    for line in robots_txt.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "sitemap" and value.strip():
            url = urljoin(base_url, value.strip())
            if url not in found:
                found.append(url)
    return found


def robots_url(page_url: str) -> str:
    """The robots.txt of ``page_url``'s host."""
    parts = urlsplit(page_url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def site_prefix(page_url: str) -> str:
    """The folder of ``page_url``: a site living under a path ("/sites/x/") owns only what is below it."""
    return page_url.rsplit("/", 1)[0] + "/"


def for_site(urls: list[str], page_url: str) -> list[str]:
    """The sitemaps of ``urls`` that belong to the site at ``page_url`` (several sites may share a host)."""
    prefix = site_prefix(page_url)
    mine = [url for url in urls if url.startswith(prefix)]
    if urlsplit(page_url).path.strip("/") and not mine:
        return []
    return mine or urls


def common_locations(page_url: str) -> list[str]:
    """Where sitemaps usually are: beside the page's folder, then at the host root."""
    candidates = [urljoin(site_prefix(page_url), name) for name in COMMON_LOCATIONS]
    candidates += [urljoin(robots_url(page_url), "/" + name) for name in COMMON_LOCATIONS]
    return list(dict.fromkeys(candidates))


def changed_links(links: list[SitemapLink], known: Mapping[str, str | None]) -> list[SitemapLink]:
    """Pages worth fetching: new URLs, and known ones whose ``lastmod`` moved.

    A known URL listed without ``lastmod`` is not fetched again: the sitemap says nothing of a change.
    """
    return [
        link
        for link in links
        if link.url not in known or (link.lastmod is not None and known[link.url] != link.lastmod)
    ]
