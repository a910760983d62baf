"""Every fault the sample network can produce, in one crawl beside healthy sources (issue 8, faults).

DNS failure, refused connection, timeout, slow drip, reset mid-body, 4xx, 5xx, redirect loop, redirect to
a private address, huge page, gzip bomb, malformed XML, truncated HTML, wrong charset, endless pagination,
robots.txt disallow (and the bridge's 429): the crawl completes within the settings' time limits (3 s
download timeout, no retries), each fault is recorded on its source with the kind of FAULT_TABLE, and every
healthy source's items arrive as the ground truth lists them. Run on both feed paths (crawl.fast_feeds:
the asyncio path and Scrapy).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crawlers.preview import preview_source
from crawlers.runner import crawl
from hub.db import Database
from hub.models import CrawlOutcome, Item, Source
from hub.registry import import_registry
from hub.settings import Settings
from samplenet.export import ground_truth, write_registry
from samplenet.model import FAULT_KINDS, MIX_FAULTS, TOLERATED_FAULTS, SampleNetwork
from samplenet.server import RunningNetwork, running_network
from tests.fixtures.sample import make_sample_network

# What each fault must leave on its source: (outcome status, error kind). The spec of this test; the
# sample network's ground truth (samplenet.model.FAULT_KINDS) must say the same.
FAULT_TABLE: dict[str, tuple[str, str | None]] = {
    "dns_failure": ("failed", "dns"),
    "refused": ("failed", "refused"),
    "timeout": ("failed", "timeout"),
    "slow_drip": ("failed", "timeout"),  # bytes keep coming, too slowly: the download timeout is total
    "reset_mid_body": ("failed", "connection"),
    "http_404": ("failed", "http_4xx"),
    "http_500": ("failed", "http_5xx"),
    "redirect_loop": ("failed", "redirect_loop"),
    "redirect_private": ("failed", "blocked_private"),
    "huge_page": ("failed", "too_large"),
    "gzip_bomb": ("failed", "too_large"),  # counted after decompression
    "malformed_xml": ("failed", "parse_error"),
    "robots_disallow": ("failed", "robots"),
    "rate_limited": ("failed", "rate_limited"),
    # Survived: what can be read is read, nothing is recorded as failed.
    "truncated_html": ("ok", None),  # the entries before the cut
    "wrong_charset": ("ok", None),  # GBK bytes labelled UTF-8: the titles still come out right
    "infinite_pagination": ("ok", None),  # stops at crawl.list_page_depth
}


@pytest.fixture(scope="module")
def fault_network() -> SampleNetwork:
    """The test network plus one branch per fault of the fault mix."""
    return make_sample_network(fault_mix=True)


@pytest.fixture(scope="module")
def fault_server(fault_network: SampleNetwork) -> Iterator[RunningNetwork]:
    with running_network(fault_network) as running:
        yield running


def test_the_table_covers_every_fault_the_network_serves(fault_network: SampleNetwork) -> None:
    served = {site.fault for site in fault_network.sites if site.fault}
    assert served == set(FAULT_TABLE)
    assert {fault for fault, _, _ in MIX_FAULTS} <= served
    for fault, (status, kind) in FAULT_TABLE.items():
        assert FAULT_KINDS.get(fault) == kind  # type: ignore[call-overload]
        assert (status == "ok") == (fault in TOLERATED_FAULTS)


@pytest.mark.parametrize("fast_feeds", [True, False], ids=["fast-feeds", "scrapy-feeds"])
def test_one_crawl_through_every_fault(
    fast_feeds: bool,
    settings: Settings,
    database: Database,
    fault_network: SampleNetwork,
    fault_server: RunningNetwork,
    tmp_path: Path,
) -> None:
    settings = settings.model_copy(
        update={"crawl": settings.crawl.model_copy(update={"fast_feeds": fast_feeds})}
    )
    registry = write_registry(
        tmp_path / "registry.yaml", fault_network, fault_server.base_url, fault_server.bases
    )
    truth = ground_truth(fault_network, fault_server.base_url, fault_server.bases)["sources"]
    with database.session() as session:
        import_registry(session, registry)
        ids = {url: source_id for source_id, url in session.execute(select(Source.id, Source.url))}
    assert set(ids) == set(truth)

    summary = crawl(settings, trigger="test")

    assert summary.exit_code == 0 and summary.sources_total == len(truth)
    with database.session() as session:
        outcomes = {
            row.source_id: row
            for row in session.scalars(select(CrawlOutcome).where(CrawlOutcome.run_id == summary.run_id))
        }
        assert len(outcomes) == len(truth)  # one outcome each: nothing left hanging or aborted
        depth = settings.crawl.list_page_depth
        for url, expected in truth.items():
            outcome = outcomes[ids[url]]
            fault = expected["fault"]
            status, kind = FAULT_TABLE[fault] if fault else ("ok", None)
            where = f"{fault or 'healthy'} {url}: {outcome.message}"
            assert (outcome.status, outcome.error_kind) == (status, kind), where
            source = session.get(Source, ids[url])
            assert source is not None
            assert source.last_error_kind == kind, where
            assert source.consecutive_failures == (0 if kind is None else 1), where

            # Every readable item arrived, with its title decoded right; nothing of a failed source.
            items = session.scalars(select(Item).where(Item.source_id == ids[url])).all()
            wanted = {
                entry["url"]: entry["title"]
                for entry in expected["items"]
                if entry["list_page"] is None or entry["list_page"] <= depth
            }
            assert {item.url: item.title for item in items} == wanted, where
            if fault == "infinite_pagination":
                # The list pages up to the depth and their articles, not one page more.
                assert outcome.requests == depth + len(wanted), outcome.requests
        truncated = next(url for url, expected in truth.items() if expected["fault"] == "truncated_html")
        assert len(truth[truncated]["items"]) == 5


def test_operator_commands_give_up_on_a_slow_drip(
    settings: Settings, fault_network: SampleNetwork, fault_server: RunningNetwork
) -> None:
    # `sources test` reads with httpx, whose timeout bounds each read: a site sending a few bytes every
    # half second never trips it, and the whole feed would take minutes. The fetcher's deadline is total.
    truth = ground_truth(fault_network, fault_server.base_url, fault_server.bases)["sources"]
    url = next(url for url, expected in truth.items() if expected["fault"] == "slow_drip")
    preview = preview_source(settings, Source(id=1, unit_id=1, name="slow", kind="feed", url=url))
    assert preview.items == [] and "timed out" in " ".join(preview.problems), preview.problems
