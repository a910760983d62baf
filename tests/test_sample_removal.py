"""Removed at source on the sample network (issue 3: "a deleted page is marked removed and kept").

Articles are deleted at their source while the network runs (/_control/delete, samplenet/deletion.py)
and the real crawl path reads the network again: a page answering 404/410 while its list still links
it is marked at once, an article gone from its list page or feed after crawl.removed_after_missing
crawls (hub/removal.py). Marked items stay in the store with their revisions, the portal shows them
with a "removed at source" note, and an article that comes back is no longer marked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import lxml.html
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from crawlers.pool import CrawlPool
from crawlers.runner import crawl
from hub.db import Database
from hub.models import CrawlOutcome, CrawlRun, Item, ItemRevision, Source
from hub.registry import import_registry
from hub.settings import Settings
from index.outbox import drain_outbox
from moderation.service import approve
from samplenet.export import ground_truth, source_url, write_registry
from samplenet.model import SampleItem, SampleNetwork, SampleSite
from samplenet.server import RunningNetwork, running_network
from tests.fixtures.sample import make_sample_network
from tests.fixtures.web import REVIEWER


@pytest.fixture
def network() -> SampleNetwork:
    """A network of this test's own: it deletes, restores and publishes items."""
    return make_sample_network()


@pytest.fixture
def server(network: SampleNetwork) -> Iterator[RunningNetwork]:
    with running_network(network) as running:
        yield running


def _healthy(network: SampleNetwork, template: str) -> SampleSite:
    return next(s for s in network.sites if s.template == template and s.fault is None)


def _plain_items(network: SampleNetwork, site: SampleSite) -> list[SampleItem]:
    """The site's items that neither repost nor are reposted (their links are another test's matter)."""
    linked = {copied for s in network.sites for copied in s.reposts.values()}
    return [i for i in site.items if i.item_id not in site.reposts and (site.slug, i.item_id) not in linked]


class Slice:
    """The two sources crawled (an HTML list site, a feed site), the store, the pool and the portal."""

    def __init__(
        self, settings: Settings, database: Database, server: RunningNetwork, pool: CrawlPool, tmp: Path
    ) -> None:
        self.settings, self.database, self.server, self.pool = settings, database, server, pool
        network = server.network
        self.html, self.feed = _healthy(network, "html"), _healthy(network, "rss")
        with database.session() as session:
            import_registry(session, write_registry(tmp / "registry.yaml", network, server.base_url))
            self.source_ids = {
                site.slug: session.scalars(
                    select(Source.id).where(Source.url == source_url(network, site, server.base_url))
                ).one()
                for site in (self.html, self.feed)
            }

    def url(self, site: SampleSite, item: SampleItem) -> str:
        return self.server.url(site.root_path + item.article_path)

    def crawl(self, publish: bool = True, status: str = "ok") -> dict[str, int]:
        """Crawl both sites (after publishing an item on each, unless told not to); returns the items
        each outcome counts as removed. Every outcome must have ``status``.

        Without a publish a listing may be the same as last time (304, or the same bytes:
        crawlers/bodyhash.py): not read, yet still missing what the last one missed.
        """
        if publish:
            for site in (self.html, self.feed):
                self.server.publish(site.slug)
        summary = crawl(self.settings, list(self.source_ids.values()), trigger="test", pool=self.pool)
        assert {o.status for o in summary.outcomes} == {status}, [o.message for o in summary.outcomes]
        with self.database.session() as session:
            removed = dict(
                session.execute(
                    select(CrawlOutcome.source_id, CrawlOutcome.items_removed).where(
                        CrawlOutcome.run_id == summary.run_id
                    )
                ).all()
            )
            run = session.get(CrawlRun, summary.run_id)
            assert run is not None and run.items_removed == sum(removed.values())
        return {slug: removed[source_id] for slug, source_id in self.source_ids.items()}

    def marked(self) -> set[str]:
        """URLs of every stored item marked removed at source."""
        with self.database.session() as session:
            return set(session.scalars(select(Item.url).where(Item.removed_at_source_at.is_not(None))))

    def item_id(self, url: str) -> int:
        with self.database.session() as session:
            return session.scalars(select(Item.id).where(Item.url == url)).one()


def _control(server: RunningNetwork, action: str, **params: str) -> httpx.Response:
    answer = httpx.post(server.url(f"/_control/{action}"), params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer


def _notice(client: TestClient, item_id: int) -> str | None:
    """The item page's "removed at source" note, if any (the page must answer either way)."""
    page = client.get(f"/items/{item_id}")
    assert page.status_code == 200
    notes = lxml.html.fromstring(page.text).xpath("//p[@class='removed-notice']/text()")
    return notes[0] if notes else None


def test_articles_deleted_at_the_source_are_marked_removed_kept_and_restored(
    settings: Settings,
    database: Database,
    server: RunningNetwork,
    app: FastAPI,
    client: TestClient,
    tmp_path: Path,
) -> None:
    limit = settings.crawl.removed_after_missing
    assert limit > 1  # so "marked at once" and "marked after N crawls" differ
    with CrawlPool(settings, 1) as pool:
        net = Slice(settings, database, server, pool, tmp_path)
        first = net.crawl()
        assert first == {net.html.slug: 0, net.feed.slug: 0} and not net.marked()
        with database.session() as session:
            stored = set(session.scalars(select(Item.url)))
        # Deleted: an HTML article its list page still links (404, a branch's site), another that
        # leaves the list, and a feed article that leaves the feed, list and sitemap (410, the city's).
        lagging, unlisted = _plain_items(server.network, net.html)[1:3]
        gone = _plain_items(server.network, net.feed)[1]
        urls = {
            "lagging": net.url(net.html, lagging),
            "unlisted": net.url(net.html, unlisted),
            "gone": net.url(net.feed, gone),
        }
        assert set(urls.values()) <= stored
        ids = {name: net.item_id(url) for name, url in urls.items()}
        with database.session() as session:  # reviewed and published before their pages go
            for item_id in ids.values():
                approve(session, item_id, REVIEWER)
        drain_outbox(database, app.state.backend)
        assert all(_notice(client, item_id) is None for item_id in ids.values())

        deleted = [
            _control(server, "delete", site=net.html.slug, item=lagging.item_id, listed="1"),
            _control(server, "delete", site=net.html.slug, item=unlisted.item_id),
            _control(server, "delete", site=net.feed.slug, item=gone.item_id),
        ]
        assert [answer.json()["status"] for answer in deleted] == [404, 404, 410]
        assert [httpx.get(url, timeout=10).status_code for url in urls.values()] == [404, 404, 410]
        truth = ground_truth(server.network, server.base_url)["sources"]
        assert {entry["url"] for source in truth.values() for entry in source["removed"]} == set(
            urls.values()
        )

        # The sites publish nothing more. The page answering 404 is marked by the next crawl, which
        # reads the lists the deletions changed; the unlisted ones count misses from then on, also
        # while the lists stay the same (not modified).
        assert net.crawl(publish=False) == {net.html.slug: 1, net.feed.slug: 0}
        assert net.marked() == {urls["lagging"]}
        for _ in range(limit - 2):
            assert net.crawl(publish=False, status="not_modified") == {net.html.slug: 0, net.feed.slug: 0}
            assert net.marked() == {urls["lagging"]}
        # The limit-th miss.
        assert net.crawl(publish=False, status="not_modified") == {net.html.slug: 1, net.feed.slug: 1}
        assert net.marked() == set(urls.values())  # and no other item of either source

        with database.session() as session:
            for name, item_id in ids.items():
                item = session.get(Item, item_id)
                assert item is not None and item.removed_at_source_at is not None, name
                assert item.state == "approved" and item.text.strip()  # kept in the archive as published
                revisions = session.scalar(select(func.count()).where(ItemRevision.item_id == item_id))
                assert revisions == item.revision_count == 1, name
        for name, item_id in ids.items():
            note = _notice(client, item_id)
            assert note is not None and note.startswith("原网页已于") and "存档" in note, name

        # Back at the source: the next crawl reads the pages again and lifts the marks.
        for site, item in ((net.html, lagging), (net.html, unlisted), (net.feed, gone)):
            _control(server, "restore", site=site.slug, item=item.item_id)
        assert net.crawl() == {net.html.slug: 0, net.feed.slug: 0}
    assert not net.marked()
    with database.session() as session:
        assert session.scalars(select(Item.missing_count).where(Item.id.in_(ids.values()))).all() == [0] * 3
    assert all(_notice(client, item_id) is None for item_id in ids.values())
