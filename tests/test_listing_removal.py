"""Feeds and sitemaps are listings too: an item gone from a sample feed or sitemap for N crawls in a
row is marked removed at source and kept (crawlers/spiders/feed.py, crawlers/spiders/sitemap.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from crawlers.runner import crawl
from hub.db import Database
from hub.models import Item, Source
from hub.registry import import_registry
from hub.settings import Settings
from samplenet.export import source_url, write_registry
from samplenet.server import running_network
from tests.fixtures.sample import make_sample_network


def _removed(database: Database, source_id: int) -> dict[str, bool]:
    with database.session() as session:
        items = session.scalars(select(Item).where(Item.source_id == source_id))
        return {item.url: item.removed_at_source_at is not None for item in items}


@pytest.mark.parametrize("template", ["rss", "sitemap"])
def test_item_gone_from_feed_or_sitemap_for_n_crawls_is_marked_removed_and_kept(
    template: str, settings: Settings, database: Database, tmp_path: Path
) -> None:
    settings.crawl.removed_after_missing = 2
    network = make_sample_network()
    site = next(s for s in network.sites if s.template == template and s.fault is None)
    with running_network(network) as server:
        with database.session() as session:
            import_registry(session, write_registry(tmp_path / "registry.yaml", network, server.base_url))
            url = source_url(network, site, server.base_url)
            source_id = session.scalars(select(Source.id).where(Source.url == url)).one()

        def crawl_again() -> None:
            with database.session() as session:  # unchanged listings (304, same body) say nothing
                session.execute(update(Source).values(etag=None, last_modified=None, body_hash=None))
            summary = crawl(settings, [source_id], trigger="test")
            assert summary.outcomes[0].status == "ok"

        crawl_again()
        gone = site.items[1]  # newer than the oldest item still listed
        gone_url = server.url(f"{site.root_path}{gone.article_path}")
        assert _removed(database, source_id) == dict.fromkeys(_removed(database, source_id), False)
        assert gone_url in _removed(database, source_id)
        with network.lock:
            site.items.remove(gone)

        crawl_again()
        assert not any(_removed(database, source_id).values())  # one miss is not enough
        crawl_again()
        removed = _removed(database, source_id)
    assert [url for url, flag in removed.items() if flag] == [gone_url]
    with database.session() as session:
        kept = session.scalars(select(Item).where(Item.url == gone_url)).one()
        assert kept.text and kept.title == gone.title  # kept in the archive, content intact
