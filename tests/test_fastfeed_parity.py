"""The fast feed path and the Scrapy path (crawl.fast_feeds on and off) record the same outcomes and store
the same items for the same sources: the Scrapy path stays tested, and the fast one is held to it.

Each path crawls into a store of its own; rows are compared by URL (ids differ between stores).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from crawlers.runner import crawl
from hub.db import Database
from hub.models import CrawlOutcome, Item, Source
from hub.registry import import_registry
from hub.settings import Settings
from tests.fixtures.store import _create_pg_database, _drop_pg_database
from tests.test_fastfeed import FaultSite, add_sources, closed_port_url, site, with_crawl

if TYPE_CHECKING:
    from tests.fixtures.env import TestEnvironment

__all__ = ["site"]  # the fault site fixture, shared with tests/test_fastfeed.py

OUTCOME_FIELDS = (
    "status",
    "error_kind",
    "http_status",
    "items_seen",
    "items_new",
    "items_updated",
    "items_removed",
    "requests",
    "status_counts",
    "failure_counts",
    "redirects",
)
ITEM_FIELDS = (
    "canonical_url",
    "guid",
    "title",
    "html",
    "text",
    "summary",
    "author",
    "origin",
    "category",
    "attachments",
    "images",
    "videos",
    "published_at",
    "date_source",
    "date_flag",
    "content_hash",
    "state",
    "risk_score",
    "revision_count",
)


@pytest.fixture
def scrapy_settings(
    settings: Settings, test_env: TestEnvironment, store_template: str, tmp_path: Path
) -> Iterator[Settings]:
    """``settings`` with the Scrapy feed path (fast_feeds off) and a store of its own."""
    name = f"xinlian_s_{uuid.uuid4().hex[:10]}"
    if test_env.database_url:
        url = _create_pg_database(test_env.database_url, name, template=store_template)
    else:
        shutil.copyfile(store_template, tmp_path / "scrapy.db")
        url = f"sqlite:///{tmp_path / 'scrapy.db'}"
    store = settings.store.model_copy(update={"url": url})
    yield with_crawl(settings, fast_feeds=False).model_copy(update={"store": store})
    if test_env.database_url:
        _drop_pg_database(test_env.database_url, name)


def _outcomes_by_url(database: Database, run_id: int) -> dict[str, dict[str, Any]]:
    with database.session() as session:
        rows = session.execute(
            select(Source.url, CrawlOutcome)
            .join(CrawlOutcome, CrawlOutcome.source_id == Source.id)
            .where(CrawlOutcome.run_id == run_id)
        ).all()
        return {url: {name: getattr(row, name) for name in OUTCOME_FIELDS} for url, row in rows}


def _items_by_url(database: Database) -> dict[str, dict[str, Any]]:
    original = aliased(Item)
    with database.session() as session:
        rows = session.execute(
            select(Item, Source.url, original.url)
            .join(Source, Source.id == Item.source_id)
            .outerjoin(original, original.id == Item.repost_of_id)
        ).all()
        return {
            item.url: {
                **{name: getattr(item, name) for name in ITEM_FIELDS},
                "source": source_url,
                "repost_of": original_url,
            }
            for item, source_url, original_url in rows
        }


def _differences(fast: dict[str, dict[str, Any]], slow: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per URL, the fields whose values differ: {url: {field: (fast, scrapy)}}."""
    differences: dict[str, Any] = {}
    for url in fast.keys() | slow.keys():
        one, other = fast.get(url, {}), slow.get(url, {})
        fields = {name: (one.get(name), other.get(name)) for name in one.keys() | other.keys()}
        changed = {name: pair for name, pair in fields.items() if pair[0] != pair[1]}
        if changed:
            differences[url] = changed
    return differences


def _crawl_both(fast: Settings, slow: Settings, prepare: Any) -> tuple[tuple[dict, dict], tuple[dict, dict]]:
    """Prepare each store with ``prepare(database)``, crawl it on its path; (outcomes, items) of each."""
    results = []
    for settings in (fast, slow):
        database = Database(settings.store.url)
        try:
            prepare(database)
            summary = crawl(settings, trigger="test")
            results.append((_outcomes_by_url(database, summary.run_id), _items_by_url(database)))
        finally:
            database.dispose()
    return results[0], results[1]


def test_sample_feeds_stored_identically_on_both_paths(
    settings: Settings, scrapy_settings: Settings, sample_registry_file: Path
) -> None:
    def feeds_only(database: Database) -> None:
        with database.session() as session:
            import_registry(session, sample_registry_file)
            session.execute(
                update(Source).where(Source.kind.not_in(["feed", "account"])).values(enabled=False)
            )

    (fast_outcomes, fast_items), (slow_outcomes, slow_items) = _crawl_both(
        settings, scrapy_settings, feeds_only
    )
    assert _differences(fast_outcomes, slow_outcomes) == {}
    assert {o["error_kind"] for o in fast_outcomes.values()} >= {None, "http_5xx", "parse_error"}
    assert len(fast_items) > 20 and _differences(fast_items, slow_items) == {}


def test_faults_and_teasers_recorded_alike_on_both_paths(
    settings: Settings, scrapy_settings: Settings, site: FaultSite, capfd: pytest.CaptureFixture[str]
) -> None:
    # One retry, as by default: a 500 is asked twice on both paths, a 429 and a 503 with Retry-After once.
    fast, slow = (with_crawl(s, retry_times=1) for s in (settings, scrapy_settings))
    site.robots = "User-agent: *\nDisallow: /private/\n"
    paths = [
        "/feed.xml",
        "/moved.xml",
        "/teasers.xml",
        "/private/feed.xml",
        "/missing",
        "/broken",
        "/busy",
        "/unavailable",
        "/loop",
        "/malformed",
        "/big",
        "/big-stream",
        "/stall",
        "/to-metadata",
        "/to-decimal",
    ]
    urls = [site.base + path for path in paths] + [closed_port_url(), "http://nonexistent.invalid/feed.xml"]
    (fast_outcomes, fast_items), (slow_outcomes, slow_items) = _crawl_both(
        fast, slow, lambda database: add_sources(database, urls)
    )
    assert _differences(fast_outcomes, slow_outcomes) == {}
    assert _differences(fast_items, slow_items) == {}
    kinds = {url: outcome["error_kind"] for url, outcome in fast_outcomes.items()}
    assert kinds[site.base + "/stall"] == "timeout" and kinds[site.base + "/big-stream"] == "too_large"
    assert fast_outcomes[site.base + "/broken"]["requests"] == 2
    # A failure is the source's recorded outcome: the crawl processes do not also log it as an error
    # (Scrapy's "Gave up retrying" was an ERROR line on the console for each failed source).
    printed = capfd.readouterr().err
    assert "Gave up retrying" not in printed and " ERROR " not in printed, printed
