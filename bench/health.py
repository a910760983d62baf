"""Benchmark: a health sweep (homepage probe + status and score recompute) of N sources on loopback.

The sites are paths of one light asyncio HTTP server (keep-alive, a small homepage per site, one
robots.txt) in a child process, so its CPU does not count against the probe. The store is a SQLite file
with N units and sources, four items and one crawl outcome each. Every site shares one loopback host,
so the probe's per-host cap is raised to its global one (real branch sites are on many hosts).
Prints one ``name: value`` line per figure. Issue 7 asks for 10,000 sources in at most 60 s.

    python -m bench.health --sources 10000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import insert

from hub.db import Database
from hub.health.job import probe_due
from hub.health.sweep import sweep
from hub.models import CrawlOutcome, CrawlRun, Item, Source, Unit
from hub.settings import Settings

NOW = datetime(2024, 6, 3, 4, 0, tzinfo=UTC)
HOMEPAGE = "<!doctype html><html><head><title>{n}</title></head><body>branch site {n}</body></html>"


class _Site(asyncio.Protocol):
    """GET /sites/<n>/ answers a small homepage, /robots.txt allows all; HTTP/1.1 keep-alive."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1].decode("latin-1")
            body = b"User-agent: *\nAllow: /\n" if path == "/robots.txt" else HOMEPAGE.format(n=path).encode()
            kind = b"text/plain" if path == "/robots.txt" else b"text/html; charset=utf-8"
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
                % (kind, len(body), body)
            )


def _serve(connection: Connection) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Site, "127.0.0.1", 0, backlog=1024)
        connection.send(server.sockets[0].getsockname()[1])
        await asyncio.get_running_loop().run_in_executor(None, connection.recv)  # until told to stop

    with contextlib.suppress(EOFError):
        asyncio.run(main())


@contextlib.contextmanager
def loopback_sites() -> Iterator[str]:
    """The sites' server in a forked child process; yields its base URL."""
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve, args=(theirs,), daemon=True)
    child.start()
    try:
        if not ours.poll(10):
            raise RuntimeError("the benchmark's site server did not start")
        yield f"http://127.0.0.1:{ours.recv()}"
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        child.join(5)
        if child.is_alive():
            child.kill()


def seed(database: Database, base: str, sources: int) -> None:
    """A city, ten districts and branches up to ``sources`` units, one feed source each."""
    with database.session() as session:
        units: list[dict[str, Any]] = [
            {"id": 1, "slug": "city", "name": "市", "level": "city", "path": "/1/"}
        ]
        units += [
            {
                "id": 2 + d,
                "slug": f"d{d}",
                "name": f"区{d}",
                "level": "district",
                "parent_id": 1,
                "path": f"/1/{2 + d}/",
            }
            for d in range(10)
        ]
        for n in range(len(units) + 1, sources + 1):
            parent = 2 + n % 10
            units.append(
                {
                    "id": n,
                    "slug": f"b{n}",
                    "name": f"支部{n}",
                    "level": "branch",
                    "parent_id": parent,
                    "path": f"/1/{parent}/{n}/",
                }
            )
        for unit in units:
            unit["website"] = f"{base}/sites/{unit['id']}/"
        session.execute(insert(Unit), units)
        session.execute(
            insert(Source),
            [
                {
                    "id": u["id"],
                    "unit_id": u["id"],
                    "name": f"s{u['id']}",
                    "kind": "feed",
                    "url": f"{u['website']}rss.xml",
                    "last_success_at": NOW,
                    "created_at": NOW - timedelta(days=400),
                }
                for u in units
            ],
        )
        # Four items a week apart each: active, active, stale and dormant sources in turn.
        newest = (2, 5, 60, 500)
        items = []
        for u in units:
            start = newest[u["id"] % 4]
            for k in range(4):
                url = f"{u['website']}articles/{k}.html"
                items.append(
                    {
                        "source_id": u["id"],
                        "unit_id": u["id"],
                        "url": url,
                        "canonical_url": url,
                        "title": f"通知{k}",
                        "content_hash": f"{u['id']:032x}{k:032x}",
                        "published_at": NOW - timedelta(days=start + 7 * k),
                        "first_seen_at": NOW - timedelta(days=start + 7 * k),
                    }
                )
        session.execute(insert(Item), items)
        session.execute(
            insert(CrawlRun), [{"id": 1, "trigger": "bench", "started_at": NOW, "finished_at": NOW}]
        )
        session.execute(
            insert(CrawlOutcome),
            [
                {"run_id": 1, "source_id": u["id"], "status": "ok", "items_seen": 4, "finished_at": NOW}
                for u in units
            ],
        )


def run(sources: int, workdir: Path, concurrency: int) -> dict[str, float | int | str]:
    """Seed, then time the probe of every homepage and the sweep."""
    with loopback_sites() as base:
        settings = Settings(
            demo=True,
            store={"url": f"sqlite:///{workdir / 'bench.db'}"},
            crawl={"allowed_private_hosts": ["127.0.0.1"]},
            health={"probe_concurrency": concurrency, "probe_per_host": concurrency},
        )
        database = Database(settings.store.url)
        database.migrate()
        seed(database, base, sources)
        cpu_before, start = time.process_time(), time.perf_counter()
        probed = probe_due(settings, database, NOW)
        probe_s = time.perf_counter() - start
        with database.session() as session:
            swept = sweep(session, settings.health, settings.timezone, NOW)
        total_s = time.perf_counter() - start
        cpu_s = time.process_time() - cpu_before
        database.dispose()
    ok = sum(1 for result in probed.results.values() if result.reachable and result.error_kind is None)
    return {
        "sources": sources,
        "homepages_probed": probed.homepages,
        "probes_ok": ok,
        "probe_s (claim + probe + store)": round(probe_s, 2),
        "probes_per_s": round(probed.homepages / probe_s, 1),
        "sweep_s (signals + statuses + scores + events)": round(total_s - probe_s, 2),
        "total_s": round(total_s, 2),
        "cpu_s_bench_process": round(cpu_s, 2),
        "statuses": " ".join(f"{status}:{count}" for status, count in sorted(swept.sources.items())),
        "status_changes": len(swept.changes),
        "within_60_s": "yes" if total_s <= 60 else "NO",
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sources", type=int, default=10_000, help="sources (one homepage each)")
    parser.add_argument(
        "--concurrency", type=int, default=100, help="probes in flight (health.probe_concurrency)"
    )
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    with tempfile.TemporaryDirectory(prefix="xinlian-bench-") as tmp:
        figures = run(args.sources, Path(tmp), args.concurrency)
    console.print("bench: health")
    console.print(f"machine: {platform.machine()} python {platform.python_version()} cores {os.cpu_count()}")
    console.print(f"loadavg: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    for name, value in figures.items():
        console.print(f"{name}: {value}")


if __name__ == "__main__":
    main()
