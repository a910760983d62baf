"""Propose sources for a site from its homepage (``xinlian sources discover URL``).

Three kinds of proposal, each with a preview of what it yields: feeds the page advertises
(``<link rel=alternate>``), sitemaps (robots.txt ``Sitemap:`` lines and common locations), and
likely news list pages (links whose list has repeated entries with titles and dates). Nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.html

from crawlers.feeds import FeedParseError, parse_feed
from crawlers.fetch import FetchError, PageFetcher
from crawlers.htmltree import parse_document
from crawlers.listpage import list_entries
from crawlers.preview import find_sitemap
from hub.settings import Settings

FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/json", "text/xml"}
)
# Link texts and paths that name a news or notice column on Chinese government and community sites.
NEWS_WORDS = (
    "新闻",
    "通知",
    "公告",
    "动态",
    "要闻",
    "政务",
    "公开",
    "资讯",
    "工作",
    "党建",
    "news",
    "list",
    "notice",
)
MAX_LIST_CANDIDATES = 6
MIN_LIST_ENTRIES = 3


@dataclass
class Proposal:
    """One proposed source: its kind, URL, a name, and the titles it yields now."""

    kind: str  # feed | sitemap | html
    url: str
    name: str
    preview: list[str] = field(default_factory=list)


@dataclass
class Discovery:
    """What a homepage offers, and the pages that could not be read."""

    homepage: str
    proposals: list[Proposal] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def discover(settings: Settings, homepage: str, preview_size: int = 5) -> Discovery:
    """Read ``homepage`` and propose feed, sitemap and list-page sources with previews."""
    fetcher = PageFetcher(settings.crawl)
    result = Discovery(homepage)
    try:
        page = fetcher.get_ok(homepage)
        root = _parse(page.text(), page.url)
        if root is None:
            result.problems.append(f"{homepage}: not an HTML page")
            return result
        site_name = (root.findtext(".//title") or "").strip()
        _feeds(fetcher, settings, root, page.url, site_name, preview_size, result)
        _sitemaps(fetcher, page.url, site_name, preview_size, result)
        _list_pages(fetcher, settings, root, page.url, preview_size, result)
    except FetchError as exc:
        result.problems.append(str(exc))
    finally:
        fetcher.close()
    return result


def _parse(text: str, base_url: str) -> lxml.html.HtmlElement | None:
    # The crawler's parse: an XHTML page's XML declaration no longer makes lxml raise ValueError.
    root = parse_document(text)
    if root is None:
        return None
    root.make_links_absolute(base_url, resolve_base_href=True)
    return root


def _feeds(
    fetcher: PageFetcher,
    settings: Settings,
    root: lxml.html.HtmlElement,
    base_url: str,
    site_name: str,
    size: int,
    result: Discovery,
) -> None:
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = link.get("href")
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        url = urljoin(base_url, href)
        try:
            page = fetcher.get_ok(url)
            parsed = parse_feed(page.body, 0, page.url, page.content_type, zone=settings.timezone)
        except (FetchError, FeedParseError) as exc:
            result.problems.append(f"advertised feed {url}: {exc}")
            continue
        name = link.get("title") or parsed.title or site_name
        titles = [entry.item.title for entry in parsed.entries[:size]]
        result.proposals.append(Proposal("feed", url, name, titles))


def _sitemaps(fetcher: PageFetcher, base_url: str, site_name: str, size: int, result: Discovery) -> None:
    location, pages = find_sitemap(fetcher, base_url)
    if location is not None and pages:
        newest = sorted(pages, key=lambda link: link.lastmod or "", reverse=True)[:size]
        preview = [f"{link.url} ({link.lastmod or 'no lastmod'})" for link in newest]
        result.proposals.append(Proposal("sitemap", location, f"{site_name} sitemap".strip(), preview))


def _list_pages(
    fetcher: PageFetcher,
    settings: Settings,
    root: lxml.html.HtmlElement,
    base_url: str,
    size: int,
    result: Discovery,
) -> None:
    host = urlsplit(base_url).netloc
    candidates: list[tuple[str, str]] = []
    for anchor in root.iter("a"):
        href = anchor.get("href") or ""
        text = anchor.text_content().strip()
        if urlsplit(href).netloc != host or href in {url for url, _ in candidates} or href == base_url:
            continue
        if any(word in text.lower() or word in href.lower() for word in NEWS_WORDS):
            candidates.append((href, text))
    for url, text in candidates[:MAX_LIST_CANDIDATES]:
        try:
            page = fetcher.get_ok(url)
        except FetchError as exc:
            result.problems.append(str(exc))
            continue
        entries = list_entries(page.text(), page.url, None, settings.timezone)
        dated = [entry for entry in entries if entry.date is not None]
        if len(dated) >= MIN_LIST_ENTRIES:
            titles = [entry.title for entry in entries[:size]]
            result.proposals.append(Proposal("html", page.url, text or page.url, titles))
