"""Integration: crawl the sample network end to end and compare with its ground truth (step 4 and 5)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from crawlers.runner import CrawlSummary, crawl
from hub.db import Database
from hub.models import CrawlRun, Item, Source
from hub.registry import import_registry
from hub.settings import Settings


def _import(database: Database, registry: Path) -> dict[str, int]:
    with database.session() as session:
        import_registry(session, registry)
        return {url: source_id for source_id, url in session.execute(select(Source.id, Source.url))}


def _expected_items(truth: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    depth = settings.crawl.list_page_depth
    return [item for item in truth["items"] if item["list_page"] is None or item["list_page"] <= depth]


# Date lines the article pages print with a label (发布时间/日期/【发布日期】...): the slash style has none.
LABELLED_STYLES = ("full_cn", "dash", "bracket", "cn_numerals", "fullwidth")


def _check_item(item: Item, expected: dict[str, Any], zone: str, kind: str) -> None:
    assert item.title == expected["title"]
    assert item.published_at is not None, item.url
    if expected["date_precision"] == "minute":
        assert item.published_at == datetime.fromisoformat(expected["published_at"]), item.url
    else:
        assert item.published_at.astimezone(ZoneInfo(zone)).date().isoformat() == expected["published_date"]
    assert item.date_source != "first_seen"
    if kind in ("html", "sitemap") and expected["date_style"] in LABELLED_STYLES:
        # Read from the article page's own label, Chinese numerals and full-width digits included.
        assert item.date_source == "label", (item.url, expected["date_style"], item.date_source)
    assert [a["url"] for a in item.attachments] == expected["attachments"], item.url
    assert [a["name"] for a in item.attachments] == expected["attachment_names"], item.url
    assert item.images == expected["images"], item.url
    assert item.text.strip()


def test_crawl_sample_network_matches_ground_truth(
    settings: Settings,
    database: Database,
    sample_registry_file: Path,
    sample_ground_truth: dict[str, Any],
) -> None:
    source_ids = _import(database, sample_registry_file)
    progress: list[tuple[int, int]] = []
    summary = crawl(settings, trigger="test", on_progress=lambda done, total: progress.append((done, total)))

    sources = sample_ground_truth["sources"]
    by_source = {outcome.url: outcome for outcome in summary.outcomes}
    assert set(by_source) == set(sources)
    assert progress[-1] == (len(sources), len(sources))
    for url, truth in sources.items():
        outcome = by_source[url]
        if truth["failure"]:
            assert (outcome.status, outcome.error_kind) == ("failed", truth["failure"]), url
        else:
            assert outcome.status == "ok", (url, outcome.message)
    assert summary.sources_failed == sum(1 for truth in sources.values() if truth["failure"])

    with database.session() as session:
        for url, truth in sources.items():
            items = session.scalars(select(Item).where(Item.source_id == source_ids[url])).all()
            stored = {item.url: item for item in items}
            expected = {entry["url"]: entry for entry in _expected_items(truth, settings)}
            assert set(stored) == set(expected), url
            for item_url, entry in expected.items():
                _check_item(stored[item_url], entry, settings.timezone, truth["kind"])
            source = session.get(Source, source_ids[url])
            assert source is not None and source.last_checked_at is not None
            if truth["failure"]:
                assert source.consecutive_failures == 1 and source.last_error_kind == truth["failure"]
            else:
                assert source.consecutive_failures == 0 and source.last_success_at is not None
        run = session.get(CrawlRun, summary.run_id)
        assert run is not None and run.finished_at is not None
        assert run.items_new == summary.items_new == session.scalar(select(func.count(Item.id)))

        # The city notice three branches repost: stored four times, the copies linked to the original.
        ids = dict(session.execute(select(Item.url, Item.id)).all())
        reposts = dict(session.execute(select(Item.url, Item.repost_of_id)).all())
        copies = {
            entry["url"]: entry["repost_of"]
            for truth in sources.values()
            for entry in _expected_items(truth, settings)
            if entry["repost_of"]
        }
        assert len(copies) == 3 and len(set(copies.values())) == 1, copies
        assert {url: reposts[url] for url in copies} == {
            url: ids[original] for url, original in copies.items()
        }
        assert reposts[next(iter(copies.values()))] is None
        assert sum(1 for linked in reposts.values() if linked is not None) == 3

    # GBK pages (declared correctly, and mislabeled as UTF-8) decoded to the right Chinese titles.
    gbk = [url for url, truth in sources.items() if truth["template"] in ("gbk", "gbk_mislabeled")]
    assert gbk and all(sources[url]["items"] for url in gbk)

    _recrawl_creates_no_duplicates(settings, database, summary)


def _recrawl_creates_no_duplicates(settings: Settings, database: Database, first: CrawlSummary) -> None:
    with database.session() as session:
        before = session.scalar(select(func.count(Item.id)))
    second = crawl(settings, trigger="test")
    assert second.items_new == 0 and second.items_updated == 0
    assert {o.status for o in second.outcomes if o.error_kind is None} <= {"ok", "not_modified"}
    # Without validators or body hashes every page is fetched and parsed again: still nothing new.
    with database.session() as session:
        session.execute(update(Source).values(etag=None, last_modified=None, body_hash=None))
    third = crawl(settings, trigger="test")
    assert third.items_new == 0 and third.items_updated == 0
    # ... except sitemap sources: their pages' lastmod did not move, so none is fetched again.
    sitemap_urls = {o.url for o in first.outcomes if o.url.endswith("sitemap_index.xml")}
    assert sitemap_urls and all(o.items_seen == 0 for o in third.outcomes if o.url in sitemap_urls)
    seen_first = sum(o.items_seen for o in first.outcomes if o.url not in sitemap_urls)
    assert sum(o.items_seen for o in third.outcomes) == seen_first
    with database.session() as session:
        assert session.scalar(select(func.count(Item.id))) == before


def test_private_address_not_allow_listed_is_refused(
    settings: Settings, database: Database, sample_registry_file: Path, sample_ground_truth: dict[str, Any]
) -> None:
    source_ids = _import(database, sample_registry_file)
    healthy = next(url for url, truth in sample_ground_truth["sources"].items() if not truth["failure"])
    strict = settings.model_copy(
        update={"crawl": settings.crawl.model_copy(update={"allowed_private_hosts": []})}
    )
    summary = crawl(strict, [source_ids[healthy]], trigger="test")
    [outcome] = summary.outcomes
    assert (outcome.status, outcome.error_kind) == ("failed", "blocked_private")
    with database.session() as session:
        assert session.scalar(select(func.count(Item.id))) == 0
