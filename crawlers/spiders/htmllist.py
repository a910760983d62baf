"""HTML list spider: list page → article links → article pages (docs/architecture.md step 4).

Follows the ``next`` link up to ``crawl.list_page_depth`` list pages. Sitemap sources
(spiders/sitemap.py) reach the same article path through their sitemaps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

from scrapy.http import Response

from crawlers.extract import extract_article
from crawlers.ledger import SourceJob
from crawlers.listpage import ListEntry, read_list_page
from crawlers.spiders.base import ParseFailure
from crawlers.spiders.sitemap import SitemapCrawling
from hub.models import SourceKind


class HtmlListSpider(SitemapCrawling):
    """Crawls HTML list-page and sitemap sources."""

    name = "xinlian-html"

    async def start(self) -> AsyncIterator[Any]:
        """One conditional request per source."""
        await self.load_sitemap_state()
        for job in self.jobs:
            if job.kind == SourceKind.SITEMAP.value:
                yield self.source_request(job, job.url, "parse_sitemap", primary=True, depth=0)
            else:
                yield self.source_request(job, job.url, "parse_list", primary=True, depth=1)

    def _article_requests(self, job: SourceJob, entries: list[ListEntry]) -> Iterator[Any]:
        for entry in entries:
            if self.ledger.seen_count(job.id) >= self.crawl_settings.max_items_per_source:
                return
            if self.ledger.claim_url(job.id, entry.url):
                yield self.source_request(job, entry.url, "parse_article", entry=entry)

    def parse_list(self, response: Response, job: SourceJob, depth: int) -> Iterator[Any]:
        """A list page: its article links, then the next page while depth allows."""
        page = read_list_page(self.decode(response), response.url, job.selectors, self.zone)
        entries = page.entries
        if not entries and depth == 1:
            raise ParseFailure("no article links found on the list page")
        self.ledger.listed(job.id, (entry.url for entry in entries))
        yield from self._article_requests(job, entries)
        if depth < self.crawl_settings.list_page_depth:
            following = page.next_url
            if following and self.ledger.claim_url(job.id, following):
                yield self.source_request(job, following, "parse_list", depth=depth + 1)

    def parse_article(self, response: Response, job: SourceJob, entry: ListEntry) -> Iterator[Any]:
        """An article page → one RawItem; the list's title and date fill what the page lacks."""
        item = extract_article(
            self.decode(response),
            entry.url,
            job.id,
            job.selectors,
            zone=self.zone,
            site_name=job.site_name,
            list_date=entry.date,  # used when the page itself shows no date (date_source "list")
        )
        if not item.title and entry.title:
            item = replace(item, title=entry.title)
        if item.title:
            yield self.emit(item)
        else:
            self.ledger.note(job.id, f"{entry.url}: no title found")
