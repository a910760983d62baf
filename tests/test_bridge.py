"""Accounts behind the RSSHub-style bridge: routes from settings, per-route 429 (architecture step 4)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from pydantic import SecretStr
from sqlalchemy import select

from crawlers.bridge import redact, retry_after_seconds, route_url
from crawlers.runner import crawl
from hub.db import Database
from hub.models import CrawlOutcome, Source
from hub.registry import export_registry, import_registry
from hub.settings import BridgeSettings, Settings
from samplenet.model import RATE_LIMIT_RETRY_AFTER_S, SampleNetwork
from samplenet.server import RunningNetwork


def _bridge(base: str, key: str) -> BridgeSettings:
    return BridgeSettings(base_url=base, access_key=SecretStr(key))


def test_route_url_from_settings_and_redaction() -> None:
    bridge = _bridge("http://rsshub.local/", "s3cret&x")
    assert route_url("bridge://weibo/123", bridge) == "http://rsshub.local/weibo/user/123?key=s3cret%26x"
    assert route_url("bridge://wechat/gh_ab", bridge).startswith("http://rsshub.local/wechat/mp/gh_ab?")
    assert route_url("http://other/feed.xml", bridge) == "http://other/feed.xml"
    assert "s3cret" not in redact(
        "GET http://rsshub.local/weibo/user/123?key=s3cret%26x took too long", bridge
    )
    assert retry_after_seconds("120") == 120.0 and retry_after_seconds("soon") is None


def test_registry_accepts_account_without_url(database: Database, tmp_path: Path) -> None:
    registry = tmp_path / "accounts.yaml"
    units = [{"slug": "u1", "name": "单位", "level": "city", "sources": [
        {"name": "微博", "kind": "account", "platform": "weibo", "account": 123},
        {"name": "公众号", "kind": "account", "platform": "wechat", "account": "gh_1", "url": "http://b/wechat/mp/gh_1"},
    ]}]  # fmt: skip
    registry.write_text(yaml.safe_dump({"units": units}, allow_unicode=True), encoding="utf-8")
    with database.session() as session:
        import_registry(session, registry)
        urls = sorted(session.scalars(select(Source.url)))
        assert urls == ["bridge://weibo/123", "http://b/wechat/mp/gh_1"]
        exported = export_registry(session, "yaml")
    assert "bridge://" not in exported and "account: '123'" in exported


def test_rate_limited_route_pauses_only_its_source(
    settings: Settings,
    database: Database,
    sample_network: SampleNetwork,
    sample_server: RunningNetwork,
    sample_registry_file: Path,
) -> None:
    settings = settings.model_copy(
        update={"bridge": _bridge(sample_server.url("/bridge"), sample_network.access_key)}
    )
    limited = next(s for s in sample_network.sites if s.fault == "rate_limited")
    healthy = next(s for s in sample_network.sites if s.template == "account" and s.fault is None)
    with database.session() as session:
        import_registry(session, sample_registry_file)
        # Both accounts as platform + id: their URLs are built from the bridge settings at crawl time.
        ids = {}
        for site in (limited, healthy):
            source = session.scalars(select(Source).where(Source.account_id == site.account)).one()
            source.url = f"bridge://{site.platform}/{site.account}"
            ids[site.slug] = source.id
    summary = crawl(settings, list(ids.values()), trigger="test")
    with database.session() as session:
        outcomes = {o.source_id: o for o in session.scalars(select(CrawlOutcome))}
        bad, good = outcomes[ids[limited.slug]], outcomes[ids[healthy.slug]]
        assert (bad.status, bad.error_kind, bad.http_status) == ("failed", "rate_limited", 429)
        assert sample_network.access_key not in (bad.message or "")
        assert good.status == "ok" and good.items_new == len(healthy.items[:20])
        paused = session.get(Source, ids[limited.slug])
        assert paused is not None and paused.next_check_at is not None
        assert paused.next_check_at - bad.finished_at == timedelta(seconds=RATE_LIMIT_RETRY_AFTER_S)
        other = session.get(Source, ids[healthy.slug])
        assert other is not None and other.next_check_at is not None
        assert other.next_check_at - good.finished_at == timedelta(seconds=other.check_interval_s)
    assert summary.sources_failed == 1
