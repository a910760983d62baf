"""What a source yields right now, without storing anything (``xinlian sources test ID``).

Reads the source with the crawler's own parsers (feeds, list pages, sitemaps, article extraction),
so what it shows is what a crawl would hand to ingest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crawlers.bridge import route_url
from crawlers.extract import extract_article
from crawlers.feeds import FeedParseError, parse_feed
from crawlers.fetch import FetchError, PageFetcher
from crawlers.listpage import list_entries
from crawlers.sitemaps import (
    SitemapLink,
    common_locations,
    for_site,
    parse_sitemap,
    robots_sitemaps,
    robots_url,
)
from hub.models import Source, SourceKind
from hub.rawitem import RawItem
from hub.settings import Settings


@dataclass
class Preview:
    """Items a source yields now, and the problems met on the way (one per failed page)."""

    items: list[RawItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def preview_source(settings: Settings, source: Source, limit: int = 10) -> Preview:
    """Fetch and parse ``source`` like a crawl would, up to ``limit`` items; nothing is stored."""
    fetcher = PageFetcher(settings.crawl)
    try:
        url = route_url(source.url, settings.bridge)
        if source.kind in (SourceKind.FEED.value, SourceKind.ACCOUNT.value):
            return _feed(fetcher, settings, source, url, limit)
        if source.kind == SourceKind.SITEMAP.value:
            return _sitemap(fetcher, settings, source, url, limit)
        return _list_page(fetcher, settings, source, url, limit)
    except (FetchError, FeedParseError, ValueError) as exc:
        return Preview(problems=[str(exc)])
    finally:
        fetcher.close()


def _feed(fetcher: PageFetcher, settings: Settings, source: Source, url: str, limit: int) -> Preview:
    page = fetcher.get_ok(url)
    parsed = parse_feed(page.body, source.id, page.url, page.content_type, zone=settings.timezone)
    return Preview(items=[entry.item for entry in parsed.entries[:limit]])


def _articles(
    fetcher: PageFetcher, settings: Settings, source: Source, links: list[tuple[str, object]], limit: int
) -> Preview:
    preview = Preview()
    for link, list_date in links[:limit]:
        try:
            page = fetcher.get_ok(link)
        except FetchError as exc:
            preview.problems.append(str(exc))
            continue
        preview.items.append(
            extract_article(
                page.text(),
                page.url,
                source.id,
                selectors=source.selectors or None,
                zone=settings.timezone,
                list_date=list_date,  # type: ignore[arg-type]
            )
        )
    return preview


def _list_page(fetcher: PageFetcher, settings: Settings, source: Source, url: str, limit: int) -> Preview:
    page = fetcher.get_ok(url)
    entries = list_entries(page.text(), page.url, source.selectors or None, settings.timezone)
    if not entries:
        return Preview(problems=[f"{url}: no article links found on the list page"])
    return _articles(fetcher, settings, source, [(entry.url, entry.date) for entry in entries], limit)


def _sitemap(fetcher: PageFetcher, settings: Settings, source: Source, url: str, limit: int) -> Preview:
    _, links = find_sitemap(fetcher, url)
    if not links:
        return Preview(problems=[f"{url}: no sitemap with pages found (robots.txt, common locations)"])
    links.sort(key=lambda link: link.lastmod or "", reverse=True)
    return _articles(fetcher, settings, source, [(link.url, None) for link in links], limit)


def find_sitemap(fetcher: PageFetcher, url: str, max_depth: int = 3) -> tuple[str | None, list[SitemapLink]]:
    """The sitemap at ``url`` — or, for a site page, the site's advertised one — and its page links.

    Returns the sitemap's URL (an index's, when the site has one) and the pages under it.
    """
    candidates = [url]
    if parse_sitemap(fetcher.get_ok(url).body, url) is None:
        try:
            robots = fetcher.get_ok(robots_url(url)).text()
            candidates = for_site(robots_sitemaps(robots, url), url)
        except FetchError:
            candidates = []
        candidates += common_locations(url)
    pages: list[SitemapLink] = []
    found: str | None = None
    queue = [(candidate, 0) for candidate in candidates]
    seen: set[str] = set()
    while queue:
        location, depth = queue.pop(0)
        if location in seen or depth > max_depth or (depth == 0 and found is not None):
            continue  # the first sitemap found at the top is the site's; the other locations are spares
        seen.add(location)
        try:
            sitemap = parse_sitemap(fetcher.get_ok(location).body, location)
        except FetchError:
            continue
        if sitemap is None:
            continue
        if depth == 0 and found is None:
            found = location
        if sitemap.is_index:
            queue += [(link.url, depth + 1) for link in sitemap.links]
        else:
            pages += sitemap.links
    return found, pages
