"""`xinlian sources discover` and `sources test` on the sample network: read, propose, store nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import build_app
from crawlers.discover import discover
from crawlers.fetch import FetchError, PageFetcher
from hub.db import Database
from hub.models import Item, Source
from hub.registry import import_registry
from hub.settings import Settings
from samplenet.server import RunningNetwork


def test_discover_finds_feed_sitemap_and_list_page(settings: Settings, sample_server: RunningNetwork) -> None:
    base = sample_server.base_url
    found = discover(settings, f"{base}/sites/city/")
    kinds = {proposal.kind: proposal for proposal in found.proposals}
    assert kinds["feed"].url == f"{base}/sites/city/rss.xml"
    assert kinds["html"].url == f"{base}/sites/city/list.html"
    assert kinds["sitemap"].url.startswith(f"{base}/sites/city/sitemap")
    assert all(len(proposal.preview) == 5 for proposal in found.proposals)
    assert found.problems == []


def test_discover_site_without_feed_proposes_no_feed(
    settings: Settings, sample_server: RunningNetwork
) -> None:
    site = next(s for s in sample_server.network.sites if s.template == "html" and s.fault is None)
    found = discover(settings, f"{sample_server.base_url}/sites/{site.slug}/")
    assert {proposal.kind for proposal in found.proposals} == {"html", "sitemap"}


def test_discover_refuses_private_hosts_not_allow_listed(
    settings: Settings, sample_server: RunningNetwork
) -> None:
    strict = settings.model_copy(
        update={"crawl": settings.crawl.model_copy(update={"allowed_private_hosts": []})}
    )
    found = discover(strict, f"{sample_server.base_url}/sites/city/")
    assert found.proposals == []
    assert "private address" in found.problems[0]


def test_fetcher_checks_every_redirect_hop(settings: Settings, sample_server: RunningNetwork) -> None:
    # localhost is loopback but not on the allow-list (only 127.0.0.1 is): refused before any request.
    fetcher = PageFetcher(settings.crawl)
    port = sample_server.base_url.rsplit(":", 1)[1]
    try:
        with pytest.raises(FetchError, match="private address"):
            fetcher.get(f"http://localhost:{port}/sites/city/")
    finally:
        fetcher.close()


def test_sources_test_shows_items_and_stores_nothing(
    config_file: Path,
    database: Database,
    sample_registry_file: Path,
    sample_server: RunningNetwork,
    sample_ground_truth: dict[str, Any],
) -> None:
    healthy = {url for url, source in sample_ground_truth["sources"].items() if not source["failure"]}
    with database.session() as session:
        import_registry(session, sample_registry_file)
        sources = {
            s.url.rsplit("/", 1)[-1]: s.id for s in session.scalars(select(Source)) if s.url in healthy
        }
    runner = CliRunner()
    for name in ("rss.xml", "list.html"):
        result = runner.invoke(
            build_app(),
            ["--config", str(config_file), "sources", "test", str(sources[name]), "--limit", "3"],
            env={"COLUMNS": "300"},
        )
        assert result.exit_code == 0, result.output
        assert "3 item(s)" in result.output
    with database.session() as session:
        assert session.scalar(select(func.count(Item.id))) == 0


def test_discover_command_prints_registry_yaml(
    config_file: Path,
    sample_server: RunningNetwork,
) -> None:
    result = CliRunner().invoke(
        build_app(),
        [
            "--config",
            str(config_file),
            "sources",
            "discover",
            f"{sample_server.base_url}/sites/city/",
            "--yaml",
        ],
    )
    assert result.exit_code == 0, result.output
    sources = yaml.safe_load(result.output)["sources"]
    assert {source["kind"] for source in sources} == {"feed", "sitemap", "html"}
