"""Feed spider: RSS / Atom / JSON Feed sources and social accounts behind an RSS bridge.

Entries carrying only a teaser get their article page fetched for the full text; if that fails
the teaser is kept (docs/architecture.md step 4). Every entry URL the feed shows is reported as the
source's listing, so an item gone from the feed for N crawls is marked removed at source.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from functools import partial
from typing import Any

from scrapy.http import Response

from crawlers.bridge import route_url
from crawlers.errors import FailureInfo
from crawlers.extract import extract_article
from crawlers.feeds import parse_feed, source_full_text_mode, wants_full_text
from crawlers.ledger import SourceJob
from crawlers.spiders.base import SourceSpider
from crawlers.websub import advertised_hub
from hub.models import SourceKind
from hub.rawitem import RawItem
from hub.websub import note_hub


class FeedSpider(SourceSpider):
    """Crawls feed and account sources."""

    name = "xinlian-feed"

    async def start(self) -> AsyncIterator[Any]:
        """One conditional request per source; accounts given as platform + id go to the bridge."""
        for job in self.jobs:
            try:
                url = route_url(job.url, self.bridge)
            except ValueError as exc:  # no bridge configured, unknown platform
                self.ledger.begin(job.id)
                self.ledger.fail(job.id, FailureInfo("error", None, str(exc)))
                self.ledger.end(job.id)
                continue
            yield self.source_request(job, url, "parse_feed", primary=True)

    def parse_feed(self, response: Response, job: SourceJob) -> Iterator[Any]:
        """Feed document → items, or follow-up requests for their pages (teasers, or as the source's
        full-text option says)."""
        try:
            mode = source_full_text_mode(job.selectors, account=job.kind == SourceKind.ACCOUNT.value)
        except ValueError as exc:  # the registry and the staff form refuse it; a store edited by hand
            self.ledger.fail(job.id, FailureInfo("error", None, str(exc)))
            return
        content_type = response.headers.get(b"Content-Type")
        feed = parse_feed(
            response.body,
            job.id,
            response.url,
            content_type.decode("latin-1") if content_type else None,
            zone=self.zone,
        )
        links = [value.decode("latin-1") for value in response.headers.getlist(b"Link")]
        hub = advertised_hub(feed, links, response.url)
        if hub is not None:  # crawlers/websub.py: the worker subscribes to it
            self.ledger.submit(partial(note_hub, source_id=job.id, hub_url=hub.hub_url, topic=hub.topic))
        self.ledger.listed(job.id, (entry.item.url for entry in feed.entries))
        self.ledger.feed_ttl(job.id, feed.ttl)
        for entry in feed.entries[: self.crawl_settings.max_items_per_source]:
            if not self.ledger.claim_url(job.id, entry.item.url):
                continue
            if wants_full_text(entry, mode):
                request = self.source_request(job, entry.item.url, "parse_full_text", teaser=entry.item)
                request.meta["fallback_item"] = entry.item
                yield request
            else:
                yield self.emit(entry.item)

    def parse_full_text(self, response: Response, job: SourceJob, teaser: RawItem) -> Iterator[Any]:
        """The article page completes a teaser: body, attachments, images; the feed's title wins, and
        the feed's date is used when the page shows none (date_source "feed")."""
        page = extract_article(
            self.decode(response),
            response.url,
            job.id,
            job.selectors,
            zone=self.zone,
            site_name=job.site_name,
            feed_date=teaser.published_at,
        )
        if len(page.text) <= len(teaser.text):
            yield self.emit(teaser)
            return
        yield self.emit(
            replace(
                teaser,
                html=page.html,
                text=page.text,
                summary=teaser.summary or page.summary,
                author=teaser.author or page.author,
                origin=page.origin,
                attachments=teaser.attachments + [a for a in page.attachments if a not in teaser.attachments],
                images=list(dict.fromkeys(teaser.images + page.images)),
                published_at=page.published_at,
                date_source=page.date_source,
                date_flag=page.date_flag,
                title=teaser.title or page.title,
            )
        )
