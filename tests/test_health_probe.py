"""The homepage probe: answers, redirect chains and loops, robots.txt, TLS expiry, the SSRF guard on
every hop and at connect time, and the probe lease (two workers never probe one source at once)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawlers.safety import HostPolicy
from hub.db import Database
from hub.health.job import probe_due
from hub.health.probe import ProbeConfig, ProbeTarget, run_probes
from hub.health.probestore import claim_probes, homepage_of
from hub.models import HealthProbe, Source, SourceHealth
from hub.settings import Settings
from samplenet.generate import generate_network
from samplenet.server import running_network
from tests.minisite import QuietHandler
from tests.moderation_seed import add_unit

USER_AGENT = "XinlianBot/0.1 (+https://xinlian.example/bot)"


class Site(QuietHandler):
    """Home, a moved page, a redirect loop, a 503 page; robots.txt bars XinlianBot from /private/."""

    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path == "/robots.txt":
            self.send_body(b"User-agent: XinlianBot\nDisallow: /private/\n")
        elif self.path == "/old":
            self.send_body(b"", {"Location": "/home"}, status=301)
        elif self.path.startswith("/loop"):
            self.send_body(b"", {"Location": "/loop2" if self.path == "/loop" else "/loop"}, status=302)
        elif self.path == "/down":
            self.send_body(b"maintenance", status=503)
        else:
            self.send_body(b"<html><title>home</title></html>")


@pytest.fixture
def site() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("CountingSite", (Site,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def config(allowed: list[str], ca_file: str = "") -> ProbeConfig:
    return ProbeConfig(USER_AGENT, HostPolicy(False, allowed), timeout_s=5, ca_file=ca_file)


def test_answers_redirects_loops_and_robots(site: tuple[str, list[str]]) -> None:
    base, hits = site
    home, moved, loop, down = run_probes(
        [
            ProbeTarget(f"{base}/home", f"{base}/news/rss.xml"),
            ProbeTarget(f"{base}/old", f"{base}/private/list.html"),
            ProbeTarget(f"{base}/loop", f"{base}/loop"),
            ProbeTarget(f"{base}/down", f"{base}/down"),
        ],
        config(["127.0.0.1"]),
    )
    assert (home.reachable, home.status_code, home.error_kind, home.robots_blocked) == (
        True,
        200,
        None,
        False,
    )
    assert home.latency_ms is not None and home.tls_expires_at is None
    assert moved.status_code == 200 and moved.redirects == [
        {"status": 301, "url": f"{base}/old", "to": f"{base}/home"}
    ]
    assert moved.robots_blocked is True  # the source's URL is under /private/
    assert (loop.reachable, loop.error_kind) == (True, "redirect_loop") and len(loop.redirects) == 2
    assert (down.reachable, down.status_code, down.error_kind) == (True, 503, "http_5xx")
    assert hits.count("/robots.txt") == 1  # one robots.txt per origin per run


def test_guard_refuses_private_hosts_before_any_request(site: tuple[str, list[str]]) -> None:
    base, hits = site
    port = base.rsplit(":", 1)[1]
    spellings = [f"http://{host}:{port}/home" for host in ("127.0.0.1", "127.1", "2130706433", "localhost")]
    redirect_to_private = ProbeTarget(f"{base}/old", f"{base}/old")
    results = run_probes([ProbeTarget(url, url) for url in spellings], config([]))
    assert [(r.reachable, r.error_kind) for r in results] == [(False, "blocked_private")] * 4
    assert "localhost resolves to private address" in (results[3].message or "")  # refused at connect time
    assert hits == []
    # Allowed by its spelling only: 127.0.0.1 is let through, a redirect to "localhost" is not.
    [hop] = run_probes([redirect_to_private], config(["127.0.0.1"]))
    assert hop.error_kind is None
    hits.clear()
    moved_away = f"http://localhost:{port}/home"
    results = run_probes([ProbeTarget(moved_away, moved_away)], config(["127.0.0.1"]))
    assert results[0].error_kind == "blocked_private" and hits == []


def test_tls_expiry_read_with_or_without_trust(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    network = generate_network(1, 0, seed=3, extras=False, faults=False, health_mix=True, tls_days_left=3)
    with running_network(network, now=now) as running:
        assert running.tls_base_url is not None and running.ca_file is not None
        url = f"{running.tls_base_url}/sites/city/"
        [untrusted] = run_probes([ProbeTarget(url, url)], config(["127.0.0.1"]))
        [trusted] = run_probes([ProbeTarget(url, url)], config(["127.0.0.1"], running.ca_file))
        dead = f"{running.bases['dead']}/sites/city/"
        [refused] = run_probes([ProbeTarget(dead, dead)], config(["127.0.0.1"]))
    assert (untrusted.reachable, untrusted.error_kind) == (False, "tls")
    assert (trusted.reachable, trusted.status_code, trusted.error_kind) == (True, 200, None)
    for result in (untrusted, trusted):  # the end date is reported either way
        assert result.tls_days_left(now) == pytest.approx(3, abs=0.01)
    assert (refused.reachable, refused.error_kind) == (False, "refused")


def test_homepage_of_a_source() -> None:
    assert homepage_of("http://a.cn/news/rss.xml", "feed", "http://a.cn/portal/") == "http://a.cn/portal/"
    assert homepage_of("http://a.cn/news/rss.xml", "feed", "http://b.cn/") == "http://a.cn/"
    assert homepage_of("http://a.cn/news/rss.xml", "feed", None) == "http://a.cn/"
    assert homepage_of("bridge://weibo/123", "account", "http://a.cn/") is None


def test_two_workers_never_probe_one_source_and_probes_are_stored(
    database: Database, settings: Settings, site: tuple[str, list[str]]
) -> None:
    base, hits = site
    now = datetime(2024, 6, 3, tzinfo=UTC)
    with database.session() as session:
        unit = add_unit(session, "branch", "branch")
        unit.website = f"{base}/home"
        for n in range(3):  # three sources on one site: one homepage request
            session.add(Source(unit_id=unit.id, name=f"s{n}", kind="feed", url=f"{base}/feed{n}.xml"))
        session.add(Source(unit_id=unit.id, name="account", kind="account", url=f"{base}/bridge/weibo/1"))
    with database.session() as session:
        first = claim_probes(session, now, lease_s=600)
    with database.session() as session:
        second = claim_probes(session, now, lease_s=600)
    assert len(first) == 3 and second == {}  # the account has no homepage; the rest are leased
    with database.session() as session:  # the lease ran out (a killed worker): due again
        assert len(claim_probes(session, now + timedelta(seconds=601), lease_s=600)) == 3

    later = now + timedelta(hours=1)
    summary = probe_due(settings, database, later)
    assert (summary.sources, summary.homepages) == (3, 1) and hits.count("/home") == 1
    assert probe_due(settings, database, later + timedelta(hours=1)).sources == 0  # probed daily
    with database.session() as session:
        assert session.scalar(select(func.count(HealthProbe.id))) == 3
        rows = session.scalars(select(SourceHealth).where(SourceHealth.probed_at.is_not(None))).all()
        assert {(row.reachable, row.http_status, row.robots_blocked) for row in rows} == {(True, 200, False)}
        assert all(
            row.next_probe_at == later + timedelta(seconds=settings.health.probe_interval_s) for row in rows
        )
    # "Probe now" of one source ignores the schedule.
    one = probe_due(settings, database, later + timedelta(hours=2), source_ids=[rows[0].source_id])
    assert one.sources == 1
