"""The demo pipeline: sample network → import → crawl → moderate → index → site health, on the real
code paths.

``run_demo`` does the work and returns what it did, so tests drive it in-process; the ``xinlian demo``
command adds the progress output and serves the portal until Ctrl-C.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from cli.crawl_cmd import crawl_with_progress, print_summary
from crawlers.runner import CrawlSummary
from hub.db import Database
from hub.health.job import health_tick
from hub.models import Item, ItemState, Role, Source
from hub.registry import import_registry
from hub.settings import Settings
from hub.users import create_user
from index.factory import open_backend
from index.outbox import drain_outbox
from moderation.service import approve
from samplenet.export import ground_truth, write_registry
from samplenet.generate import generate_network
from samplenet.model import SampleNetwork
from samplenet.server import RunningNetwork, running_network

DEMO_USER = "admin"
DEMO_PASSWORD = "xinlian-demo"
DEMO_ACTOR = "演示审核员 (demo)"


# The sample network answers on loopback within milliseconds; only its deliberately dead sites take longer.
DEMO_TIMEOUT_S = 4.0


@dataclass
class DemoResult:
    """What the demo pipeline did."""

    settings: Settings
    sample_base_url: str
    crawl: CrawlSummary
    approved: int
    pending: int
    health: dict[str, int]  # sources per health status after the first sweep (docs/health.md)


def demo_settings(settings: Settings, workdir: Path) -> Settings:
    """The settings with the store and index moved into ``workdir``, demo mode on, and requests given up
    after at most ``DEMO_TIMEOUT_S`` (the sample network's stalling site held the crawl's end, and the
    homepage probes, for the whole configured timeout, retried)."""
    crawl = settings.crawl.model_copy(
        update={"download_timeout_s": min(settings.crawl.download_timeout_s, DEMO_TIMEOUT_S)}
    )
    health = settings.health.model_copy(
        update={"probe_timeout_s": min(settings.health.probe_timeout_s, DEMO_TIMEOUT_S)}
    )
    return settings.model_copy(
        update={
            "demo": True,
            "crawl": crawl,
            "health": health,
            "store": settings.store.model_copy(update={"url": f"sqlite:///{workdir / 'xinlian.db'}"}),
            "search": settings.search.model_copy(
                update={"backend": "embedded", "embedded_path": str(workdir / "search-index")}
            ),
        }
    )


@contextmanager
def sample_network_running(settings: Settings, port: int | None = None) -> Iterator[RunningNetwork]:
    """The configured sample network, served on loopback for as long as the block runs."""
    network: SampleNetwork = generate_network(
        settings.sample.districts, settings.sample.branches, settings.sample.seed
    )
    port = settings.sample.port if port is None else port
    with running_network(network, host=settings.sample.host, port=port) as running:
        yield running


def run_pipeline(settings: Settings, running: RunningNetwork, workdir: Path, console: Console) -> DemoResult:
    """Import the running sample network, crawl it, approve trusted sources' items, index them, and
    classify every source's health (homepage probes and the sweep, as the worker's health job does)."""
    database = Database(settings.store.url)
    try:
        database.migrate()
        backend = open_backend(settings)
        try:
            backend.ensure_ready()
            registry_file = workdir / "registry.yaml"
            write_registry(registry_file, running.network, running.base_url)
            with database.session() as session:
                console.print(str(import_registry(session, registry_file)))
                create_user(session, DEMO_USER, DEMO_PASSWORD, Role.ADMIN.value, display_name=DEMO_ACTOR)
            summary = crawl_with_progress(console, settings, None, trigger="demo")
            print_summary(console, summary)
            approved = _approve_trusted(database, running)
            drain_outbox(database, backend, zone=settings.timezone)
        finally:
            backend.close()
        _probed, swept = health_tick(settings, database)
        health = dict(swept.sources.most_common())
        console.print("site health: " + ", ".join(f"{count} {status}" for status, count in health.items()))
        with database.session() as session:
            pending = len(session.scalars(select(Item.id).where(Item.state == ItemState.PENDING.value)).all())
    finally:
        database.dispose()
    return DemoResult(settings, running.base_url, summary, approved, pending, health)


def _approve_trusted(database: Database, running: RunningNetwork) -> int:
    """Approve, as the demo reviewer, every item of a source the sample network marks trusted."""
    truth = ground_truth(running.network, running.base_url)
    trusted_urls = {url for url, source in truth["sources"].items() if source.get("trusted")}
    approved = 0
    with database.session() as session:
        rows = session.execute(
            select(Item.id)
            .join(Source, Item.source_id == Source.id)
            .where(Source.url.in_(trusted_urls), Item.state == ItemState.PENDING.value)
            .order_by(Item.id)
        ).all()
        for (item_id,) in rows:
            approve(session, item_id, DEMO_ACTOR)
            approved += 1
    return approved


def reset_workdir(workdir: Path) -> None:
    """Start the demo from nothing: remove the previous demo's store and index."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
