"""Sitemap sources (docs/architecture.md step 4): sitemap → (index →) sitemaps → changed article pages.

A source's URL may be the sitemap itself or any page of the site; for a page, the sitemaps named in
robots.txt (those under the site's folder) or found at the common locations are used. Pages are
fetched when new, or when their ``lastmod`` moved since the last fetch (crawlers/sitemapstore.py).
Once every sitemap of a source has been read, the URLs they list are the source's listing (removed
at source after N crawls without them); if one of them failed, the partial list says nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from functools import partial
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.errors import FailureInfo
from crawlers.ledger import SourceJob
from crawlers.listpage import ListEntry
from crawlers.sitemaps import (
    SitemapLink,
    changed_links,
    common_locations,
    for_site,
    parse_sitemap,
    robots_sitemaps,
    robots_url,
)
from crawlers.sitemapstore import known_lastmods, remember
from crawlers.spiders.base import SourceSpider
from hub.models import SourceKind

MAX_INDEX_DEPTH = 3  # index → index → sitemap is already unusual


class SitemapCrawling(SourceSpider):
    """The sitemap half of the HTML spider; article pages go through ``parse_article``."""

    known: dict[int, dict[str, str | None]]
    # Per source: child sitemaps requested but not yet read, and the page URLs read so far.
    sitemaps_pending: dict[int, int]
    sitemap_urls: dict[int, list[str]]

    async def load_sitemap_state(self) -> None:
        """Read what each sitemap source fetched before (once, off the reactor thread)."""
        ids = [job.id for job in self.jobs if job.kind == SourceKind.SITEMAP.value]
        self.known = {}
        self.sitemaps_pending = {}
        self.sitemap_urls = {}
        if ids:

            def read() -> dict[int, dict[str, str | None]]:
                with self.ledger.database.session() as session:
                    return known_lastmods(session, ids)

            self.known = await asyncio.get_running_loop().run_in_executor(None, read)

    def parse_article(self, response: Response, job: SourceJob, entry: ListEntry) -> Iterator[Any]:
        """An article page → RawItem (implemented by the HTML spider)."""
        raise NotImplementedError

    def parse_sitemap(
        self, response: Response, job: SourceJob, depth: int = 0, child: bool = False
    ) -> Iterator[Any]:
        """A sitemap or index; the source's own URL may also be a plain page of the site.

        ``child``: a sitemap an index named (counted in ``sitemaps_pending`` until read).
        """
        sitemap = parse_sitemap(response.body, response.url)
        if depth == 0 and (sitemap is None or sitemap.is_index):
            # Only a sitemap's own bytes say its URLs are the same: under an index, or behind a page of
            # the site, the sitemaps read may change while this answer does not.
            self.ledger.forget_body(job.id)
        if sitemap is None:
            if depth == 0:
                yield self._candidate_request(job, [robots_url(response.url)], response.url)
            else:
                self.ledger.note(job.id, f"{response.url}: not a sitemap")
            return
        if sitemap.is_index:
            if depth >= MAX_INDEX_DEPTH:
                self.ledger.note(job.id, f"{response.url}: sitemap indexes nested too deep")
                return
            for link in sitemap.links:
                if self.ledger.claim_url(job.id, link.url):
                    self.sitemaps_pending[job.id] = self.sitemaps_pending.get(job.id, 0) + 1
                    yield self.source_request(job, link.url, "parse_sitemap", depth=depth + 1, child=True)
        else:
            self.sitemap_urls.setdefault(job.id, []).extend(link.url for link in sitemap.links)
            known = self.known.get(job.id, {})
            yield from self._article_requests_for(job, changed_links(sitemap.links, known))
        self._sitemap_read(job, child)

    def _sitemap_read(self, job: SourceJob, child: bool) -> None:
        """One sitemap of the source is read; after the last one, its URLs are the source's listing."""
        if child:
            self.sitemaps_pending[job.id] -= 1
        if self.sitemaps_pending.get(job.id, 0) == 0:
            self.ledger.listed(job.id, self.sitemap_urls.pop(job.id, []))

    def _article_requests_for(self, job: SourceJob, links: list[SitemapLink]) -> Iterator[Any]:
        for link in links:
            if self.ledger.seen_count(job.id) >= self.crawl_settings.max_items_per_source:
                return
            if self.ledger.claim_url(job.id, link.url):
                entry = ListEntry(link.url, "", None)
                yield self.source_request(
                    job, link.url, "parse_sitemap_article", entry=entry, lastmod=link.lastmod
                )

    def parse_sitemap_article(
        self, response: Response, job: SourceJob, entry: ListEntry, lastmod: str | None
    ) -> Iterator[Any]:
        """An article listed by a sitemap; once it yields an item, its ``lastmod`` is remembered."""
        found = list(self.parse_article(response, job, entry))
        yield from found
        if found:
            self.ledger.submit(partial(remember, source_id=job.id, url=entry.url, lastmod=lastmod))

    def _candidate_request(self, job: SourceJob, candidates: list[str], page_url: str) -> scrapy.Request:
        request = self.source_request(
            job, candidates[0], "parse_candidate", rest=candidates[1:], page_url=page_url
        )
        request.meta["handle_httpstatus_all"] = True  # a 404 only means: try the next place
        return request

    def parse_candidate(
        self, response: Response, job: SourceJob, rest: list[str], page_url: str
    ) -> Iterator[Any]:
        """Look for the site's sitemap: robots.txt first, then the common locations, one at a time."""
        if response.url.endswith("/robots.txt"):
            named = robots_sitemaps(response.text, response.url) if response.status == 200 else []
            rest = for_site(named, page_url) or common_locations(page_url)
        elif response.status == 200 and parse_sitemap(response.body, response.url) is not None:
            yield from self.parse_sitemap(response, job, depth=1)
            return
        if rest:
            yield self._candidate_request(job, rest, page_url)
        else:
            message = f"no sitemap found for {page_url} (robots.txt, {', '.join(common_locations(page_url))})"
            self.ledger.fail(job.id, FailureInfo("parse_error", None, message))
