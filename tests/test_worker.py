"""The worker's crawl tick: due sources are crawled once, then wait for their next check."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from cli.worker_cmd import crawl_tick
from hub.db import Database
from hub.models import CrawlRun, Item, Source
from hub.registry import import_registry
from hub.settings import Settings
from samplenet.server import RunningNetwork


def test_tick_crawls_due_sources_once(
    settings: Settings, database: Database, sample_registry_file: Path, sample_server: RunningNetwork
) -> None:
    with database.session() as session:
        import_registry(session, sample_registry_file)
        # Only the healthy RSS source is due; the others are checked later.
        session.query(Source).update({Source.enabled: False})
        rss = session.scalars(select(Source).where(Source.url.like("%/rss.xml"))).first()
        assert rss is not None
        rss.enabled = True
        source_id = rss.id

    assert crawl_tick(settings, database) == 1
    with database.session() as session:
        assert (session.scalar(select(func.count(Item.id)).where(Item.source_id == source_id)) or 0) > 0
        source = session.get(Source, source_id)
        assert source is not None and source.last_success_at is not None
        run = session.scalars(select(CrawlRun)).one()
        assert run.trigger == "scheduler" and run.sources_ok == 1

    # The outcome set the next check an interval ahead: the next tick has nothing to do.
    assert crawl_tick(settings, database) == 0
