"""A crawl interrupted mid-way (Ctrl-C, worker killed) must not leave the run looking successful."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crawlers.runner import crawl
from hub.db import Database
from hub.models import CrawlOutcome, CrawlRun, Source
from hub.registry import import_registry
from hub.settings import Settings


class Interrupted(Exception):
    """Raised from the progress callback, as Ctrl-C would be."""


def test_interrupted_crawl_closes_the_run_with_failures(
    settings: Settings, database: Database, sample_registry_file: Path, sample_ground_truth: dict[str, Any]
) -> None:
    with database.session() as session:
        import_registry(session, sample_registry_file)
        slow = [url for url, truth in sample_ground_truth["sources"].items() if truth["failure"] == "timeout"]
        slow_ids = list(session.scalars(select(Source.id).where(Source.url.in_(slow))))
    assert slow_ids

    def stop_after_first_outcome(done: int, total: int) -> None:
        if done >= 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        crawl(settings, trigger="test", on_progress=stop_after_first_outcome)

    with database.session() as session:
        run = session.scalars(select(CrawlRun)).one()
        total = session.scalar(select(func.count(Source.id)))
        assert run.finished_at is not None
        assert run.sources_ok + run.sources_failed == total
        # One outcome per source, and the source still waiting on its slow server is a failure.
        per_source = session.execute(
            select(CrawlOutcome.source_id, func.count()).group_by(CrawlOutcome.source_id)
        ).all()
        assert len(per_source) == total and all(count == 1 for _, count in per_source)
        statuses = session.execute(
            select(CrawlOutcome.status, CrawlOutcome.error_kind).where(CrawlOutcome.source_id.in_(slow_ids))
        ).all()
        assert all(status == "failed" for status, _ in statuses)
        assert run.sources_failed >= len(slow_ids)
