"""Scale-out (issue 8): several ``xinlian worker`` processes on one PostgreSQL share the crawl without
double work, and several ``xinlian serve`` processes serve the same data.

The workers coordinate only through the database (the source lease of ``claim_due_sources``, the
homepage-probe lease of hub/health/probestore.py), so processes on one machine stand for processes on
several: this is the scale-out path docs/deploy.md describes. The sample network counts the requests
it answers, so "no double work" is checked where it costs: at the sites. Runs on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from hub.db import Database
from hub.models import CrawlOutcome, CrawlRun, Item, Source, SourceHealth
from hub.registry import import_registry
from hub.settings import Settings, load_settings
from index.factory import open_backend
from index.outbox import drain_outbox
from moderation.service import approve
from samplenet.app import SampleApp
from samplenet.export import ground_truth, write_registry
from tests.fixtures.sample import make_sample_network
from tests.fixtures.serve import serve_app
from tests.workers import (
    Process,
    base_sections,
    crawl_settled,
    expected_urls,
    free_port,
    running,
    serve_process,
    store_problems,
    wait_for_http,
    wait_until,
    worker_process,
    write_config,
)

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
SETTLE_TIMEOUT_S = 300.0
CRAWLED = re.compile(r"crawled (\d+) sources")


class HitCounter:
    """ASGI wrapper counting the requests of each path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            with self._lock:
                self.hits[scope["path"]] += 1
        await self.app(scope, receive, send)


@contextmanager
def counted_network(network: Any) -> Iterator[tuple[str, Counter[str]]]:
    """The sample network served on loopback with a request count per path."""
    counter = HitCounter(SampleApp(network).build())
    with serve_app(counter) as base_url:
        yield base_url, counter.hits


def _started(worker: Process) -> bool:
    return "worker started" in worker.output()


def _settled(database: Database) -> bool:
    """The crawl is done and every homepage was probed (the probes are leased among the workers too)."""
    with database.session() as session:
        probed = select(SourceHealth.source_id).where(
            SourceHealth.source_id == Source.id, SourceHealth.probed_at.is_not(None)
        )
        unprobed = session.scalar(
            select(func.count()).select_from(Source).where(Source.kind != "account", ~probed.exists())
        )
        return crawl_settled(session) and unprobed == 0


@pytest.fixture
def pg_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("runs on PostgreSQL (make test-postgres)")
    return database_url


@pytest.mark.timeout(600)  # real processes on a shared machine: longer than the suite's 300 s
@pytest.mark.postgres
def test_three_workers_share_one_crawl_and_two_web_processes_serve_it(pg_url: str, tmp_path: Path) -> None:
    database = Database(pg_url)
    index_path = tmp_path / "search-index"
    sections = base_sections(pg_url, index_path, batch=3, per_host_cap=3, lease_s=300)
    sections["health"] = {"tick_s": 1.0}  # the homepage probes are shared by lease too
    config = write_config(tmp_path / "xinlian.toml", sections)
    network = make_sample_network(districts=3, branches=8, faults=False, extras=False)
    workers = [worker_process(config, tmp_path / f"worker{n}.log", f"worker {n}") for n in range(WORKERS)]
    try:
        with counted_network(network) as (base_url, hits), running(*workers):
            wait_until(lambda: all(_started(w) for w in workers), 180, "the workers to start", tuple(workers))
            # Every source becomes due at once, with all workers ticking.
            registry = write_registry(tmp_path / "registry.yaml", network, base_url)
            with database.session() as session:
                import_registry(session, registry)
            wait_until(lambda: _settled(database), SETTLE_TIMEOUT_S, "the crawl to finish", tuple(workers))
            truth = ground_truth(network, base_url)
            site_hits = {path: n for path, n in hits.items() if path.startswith(("/sites/", "/bridge/"))}
        per_worker = [sum(int(n) for n in CRAWLED.findall(worker.output())) for worker in workers]

        with database.session() as session:
            sources = dict(session.execute(select(Source.id, Source.url)).all())
            outcomes = Counter(session.scalars(select(CrawlOutcome.source_id)))
            runs = session.execute(select(CrawlRun.id, CrawlRun.finished_at, CrawlRun.sources_total)).all()
            per_run = Counter(session.scalars(select(CrawlOutcome.run_id)))
            problems = store_problems(
                session, expected_urls(truth, Settings(demo=True).crawl.list_page_depth), set()
            )
        # Each source crawled exactly once in its due period, by one run of one worker.
        assert outcomes == Counter(dict.fromkeys(sources, 1))
        assert all(finished is not None and per_run[run_id] == total for run_id, finished, total in runs)
        assert problems == []
        # The work was shared, and the workers' own accounts add up to every source once.
        assert sum(per_worker) == len(sources)
        assert sum(1 for n in per_worker if n > 0) >= 2, per_worker
        # At the sites: every page (feeds, list pages, articles, homepages probed) was asked for once.
        assert site_hits and {path: n for path, n in site_hits.items() if n != 1} == {}
        homepages = {path for path in site_hits if re.fullmatch(r"/sites/[\w-]+/", path)}
        sites = {url.split("/sites/")[1].split("/")[0] for url in sources.values() if "/sites/" in url}
        assert {path.split("/")[2] for path in homepages} == sites  # accounts have no homepage to probe

        _serve_from_two_processes(database, config, tmp_path)
    finally:
        database.dispose()


def _serve_from_two_processes(database: Database, config: Path, tmp_path: Path) -> None:
    """Two web processes on one store and one index answer alike, before and after a change."""
    with database.session() as session:
        ids = list(session.scalars(select(Item.id).order_by(Item.id).limit(12)))
        for item_id in ids[:10]:
            approve(session, item_id, "审核员")
    settings = Settings(
        demo=True,
        store={"url": database.url},
        search={"backend": "embedded", "embedded_path": str(tmp_path / "search-index")},
    )
    backend = open_backend(settings)
    try:
        drain_outbox(database, backend, zone=settings.timezone)
        ports = [free_port(), free_port()]
        webs = [
            serve_process(config, tmp_path / f"web{n}.log", port, f"web {n}") for n, port in enumerate(ports)
        ]
        with running(*webs):
            for port, web in zip(ports, webs, strict=True):
                wait_for_http(f"http://127.0.0.1:{port}/healthz", 120, (web,))

            def found(port: int) -> list[int]:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/search?sort=date&limit=50", timeout=30)
                assert answer.status_code == 200
                return sorted(item["id"] for item in answer.json()["items"])

            assert found(ports[0]) == found(ports[1]) == sorted(ids[:10])
            first = httpx.get(f"http://127.0.0.1:{ports[0]}/api/v1/items/{ids[0]}", timeout=30).json()
            assert first == httpx.get(f"http://127.0.0.1:{ports[1]}/api/v1/items/{ids[0]}", timeout=30).json()
            # A change made once (here: approved and drained by this process) reaches both.
            with database.session() as session:
                approve(session, ids[10], "审核员")
            drain_outbox(database, backend, zone=settings.timezone)
            assert found(ports[0]) == found(ports[1]) == sorted(ids[:11])
    finally:
        backend.close()


def test_every_compose_service_environment_loads_as_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names (tests/test_docs.py checks them too) and values: each service's XINLIAN_* environment, with
    its secret files and the image's settings file, makes valid production settings."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    loaded = {}
    for name, service in compose["services"].items():
        environment = {
            k: str(v) for k, v in (service.get("environment") or {}).items() if k.startswith("XINLIAN_")
        }
        if not environment:
            continue
        for variable in [n for n in os.environ if n.startswith("XINLIAN_")]:
            monkeypatch.delenv(variable)
        for variable, value in environment.items():
            if variable.endswith("_FILE"):  # a Docker secret: a real-looking value in a file
                secret = tmp_path / f"{name}-{variable}"
                secret.write_text(f"{variable.lower()}-0123456789abcdef\n", encoding="utf-8")
                value = str(secret)
            monkeypatch.setenv(variable, value)
        loaded[name] = load_settings(ROOT / "config" / "production.toml")
    assert {"migrate", "web", "worker"} <= set(loaded)
    for settings in loaded.values():
        assert not settings.demo and settings.store.url.startswith("postgresql://")
        assert settings.search.backend.startswith("http://")
        assert settings.search.es_password.get_secret_value()
    assert loaded["worker"].crawl.processes == 2 and loaded["worker"].worker.lease_s == 900
    assert compose["services"]["web"]["deploy"]["replicas"] >= 2
    assert compose["services"]["worker"]["deploy"]["replicas"] >= 2
