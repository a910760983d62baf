"""Benchmark: the store path of a cold ingest alone (``hub.ingestbatch.ingest_batch``), on one core.

``bench/ingest.py`` measures the whole pipeline across processes, where fetch, parsing, the GIL and the
other processes move its figures by ±15 % from run to run. This one takes the same feeds, fetched and
parsed before the clock runs, and times only what a crawl process's writer thread does with them:
batches of ``crawlers.ledger.INGEST_BATCH`` items through ``ingest_batch`` (prepare and sanitize,
screening, dedupe, inserts, repost linking, auto-approval, outbox rows), each in its own transaction,
into a fresh SQLite store with the whole network trusted. Back-to-back runs agree within a few percent
(the shared machines here drift by ±10 % over minutes: compare a change with alternating runs). Prints
one ``name: value`` line per figure.

    python -m bench.storeingest --sources 500 --items 20
"""

from __future__ import annotations

import argparse
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import func, select

from bench.ingest import import_trusted
from crawlers.feeds import parse_feed
from crawlers.ledger import INGEST_BATCH
from crawlers.sqlitelock import begin_writes_immediately
from hub.db import Database
from hub.fingerprint import prepare as prepare_fingerprints
from hub.ingestbatch import ingest_batch
from hub.models import Item, ItemState, Source
from hub.nfkc import prepare as prepare_nfkc
from hub.rawitem import RawItem
from samplenet.generate import generate_network
from samplenet.server import running_network_process


def _raw_items(database: Database) -> list[RawItem]:
    """Every entry of every feed source, parsed as the fast feed path parses it (before the clock)."""
    with database.session() as session:
        sources = session.execute(select(Source.id, Source.url).order_by(Source.id)).all()
    items: list[RawItem] = []
    for source_id, url in sources:
        with urllib.request.urlopen(url, timeout=30) as answer:  # the loopback sample network
            body, content_type = answer.read(), answer.headers.get("Content-Type")
        items.extend(entry.item for entry in parse_feed(body, source_id, url, content_type).entries)
    return items


def run(sources: int, items: int, workdir: Path) -> dict[str, float | int]:
    """Run the benchmark once and return its figures."""
    network = generate_network(0, 0, seed=1, items_per_site=items, feed_sources=sources)
    database = Database(f"sqlite:///{workdir / 'bench.db'}")
    database.migrate()
    begin_writes_immediately(database.engine)  # as a crawl process's writer begins its transactions
    with running_network_process(network) as running:
        import_trusted(database, running, workdir)
        raws = _raw_items(database)
    prepare_nfkc()  # built at a crawl process's start, not in its first batch
    prepare_fingerprints()
    cpu_start, start = time.process_time(), time.perf_counter()
    for first in range(0, len(raws), INGEST_BATCH):
        with database.session() as session:
            ingest_batch(session, raws[first : first + INGEST_BATCH])
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    with database.session() as session:
        stored = session.scalar(select(func.count(Item.id))) or 0
        approved = session.scalar(select(func.count(Item.id)).where(Item.state == ItemState.APPROVED.value))
    database.dispose()
    return {
        "items_parsed": len(raws),
        "items_stored": stored,
        "items_auto_approved": approved or 0,
        "batch_items": INGEST_BATCH,
        "wall_s": round(wall_s, 2),
        "cpu_s": round(cpu_s, 2),
        "items_per_s": round(stored / wall_s, 1),
        "cpu_ms_per_item": round(cpu_s * 1000 / max(stored, 1), 3),
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sources", type=int, default=500, help="feed sources in the sample network")
    parser.add_argument("--items", type=int, default=20, help="items per source")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xinlian-bench-") as tmp:
        figures = run(args.sources, args.items, Path(tmp))
    for name, value in figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
