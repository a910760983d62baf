"""Done-when of issue 7: on the sample network's known mix (lively, slowing, stale for months, dormant,
broken, unreachable, TLS expiring) the health report classifies every source as its ground truth says.

A real crawl and a real homepage probe over loopback; the clock is injected: the network dates its
items before ``now``, its TLS certificate expires days after ``now``, and the sweep judges at ``now``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crawlers.runner import crawl
from hub.db import Database
from hub.health.job import health_tick
from hub.health.report import source_report
from hub.models import HealthEvent, Source, SourceHealth, UnitHealthSummary
from hub.registry import import_registry
from hub.secreturl import masked_url
from hub.settings import Settings
from hub.timeutil import to_zone, utcnow
from samplenet.export import ground_truth, write_registry
from samplenet.server import RunningNetwork, running_network
from tests.fixtures.sample import make_sample_network

TLS_DAYS_LEFT = 5.0


@pytest.fixture
def health_network(tmp_path: Path) -> Any:
    now = utcnow()
    network = make_sample_network(
        today=to_zone(now, "Asia/Shanghai").date(), health_mix=True, tls_days_left=TLS_DAYS_LEFT
    )
    with running_network(network, now=now) as running:
        yield (
            now,
            running,
            write_registry(tmp_path / "registry.yaml", network, running.base_url, running.bases),
        )


def _with_ca(settings: Settings, running: RunningNetwork) -> Settings:
    health = settings.health.model_copy(update={"ca_file": running.ca_file})
    return settings.model_copy(update={"health": health})


def test_health_classifies_every_source_as_the_ground_truth_says(
    settings: Settings, database: Database, health_network: tuple[datetime, RunningNetwork, Path]
) -> None:
    now, running, registry = health_network
    truth = ground_truth(running.network, running.base_url, running.bases)["sources"]
    assert {entry["health"] for entry in truth.values()} == {
        "active",
        "slowing",
        "stale",
        "dormant",
        "broken",
        "unreachable",
        "unknown",
    }
    with database.session() as session:
        import_registry(session, registry)
    crawl(settings, trigger="test")
    probed, swept = health_tick(_with_ca(settings, running), database, now=now)
    assert probed.sources == sum(1 for entry in truth.values() if entry["kind"] != "account")

    with database.session() as session:
        rows = session.execute(select(Source.url, Source.unit_id, SourceHealth).join(SourceHealth)).all()
        units = {row.unit_id: row for row in session.scalars(select(UnitHealthSummary))}
        got = {url: (health.status, health) for url, _, health in rows}
        assert set(got) == set(truth)
        mismatched = {
            url: (got[url][0], entry["health"], got[url][1].reason)
            for url, entry in truth.items()
            if got[url][0] != entry["health"]
        }
        assert mismatched == {}
        for url, unit_id, health in rows:
            # One source per unit in the sample network: the unit rolls up to the same status.
            assert units[unit_id].status == truth[url]["health"], url
            days_left = None
            if health.tls_expires_at is not None:
                days_left = (health.tls_expires_at - now).total_seconds() / 86400
            expiring = days_left is not None and days_left < settings.health.tls_warn_days
            assert expiring == truth[url]["tls_expiring"], url
            if truth[url]["transport"] == "https":
                assert health.reachable and days_left == pytest.approx(TLS_DAYS_LEFT, abs=0.01)
        # The report (what `xinlian health report`, its exports and the dashboard show) says the same.
        report = source_report(session, now, settings.timezone, settings.health.tls_warn_days).records()
        reported = {str(row["url"]): (row["status"], row["tls_expiring"]) for row in report}
        assert len(report) == len(reported) == len(truth)
        assert any(entry["tls_expiring"] for entry in truth.values())  # the flag is compared both ways
        # (The report shows each URL with its secrets masked: the account sources' bridge key.)
        expected = {masked_url(url): (entry["health"], entry["tls_expiring"]) for url, entry in truth.items()}
        assert reported == expected
        # Every first classification is an event; a second sweep at the same time changes nothing.
        first_events = session.scalars(select(HealthEvent)).all()
        assert len(first_events) == len(rows) + len(units)
        assert all(event.from_status is None for event in first_events)
    _, again = health_tick(settings, database, now=now)
    assert again.changes == [] and again.sources == swept.sources
