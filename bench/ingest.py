"""Benchmark: cold ingest of the sample network scaled to N feed sources × M items.

End to end through the real code paths: fetch (Scrapy in the crawl processes of a pool started
before the clock runs; its start-up is printed as pool_start_s) → ingest (stored, screened, and
approved by the network's auto-approve policy when clean, as a trusted network runs) → outbox drain
(indexed in the embedded index by a drainer thread while the crawl runs, as the worker's outbox job
does, then the rest; --no-index-during-crawl indexes only after the crawl). End to end is crawl start → last
approved item indexed; items with screening hits are stored and wait for a reviewer
(items_pending_review). Prints one ``name: value`` line per figure, in a stable order, so runs can
be compared with ``diff``.

    python -m bench.ingest --sources 500 --items 20
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select, update

from crawlers.pool import CrawlPool
from crawlers.runner import crawl
from hub.db import Database
from hub.models import Item, ItemState, Unit
from hub.registry import import_registry
from hub.settings import Settings
from index.backend import SearchBackend
from index.factory import open_backend
from index.outbox import drain_outbox
from samplenet.export import write_registry
from samplenet.generate import generate_network
from samplenet.server import RunningNetwork, running_network_process

DRAIN_PAUSE_S = 0.5  # the drainer's wait when the outbox is empty


def _peak_rss_mib(who: int) -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(who).ru_maxrss / 1024


class _Drainer:
    """Drains the outbox into the index in a background thread until the ``with`` block ends."""

    def __init__(self, database: Database, backend: SearchBackend, batch: int, enabled: bool) -> None:
        self._database, self._backend, self._batch, self._enabled = database, backend, batch, enabled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-drainer", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not drain_outbox(self._database, self._backend, batch=self._batch).applied:
                self._stop.wait(DRAIN_PAUSE_S)

    def __enter__(self) -> _Drainer:
        if self._enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._enabled:
            self._thread.join()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuClock:
    """CPU spent since it was made by the crawl processes, this process and the other children (the
    sample server)."""

    def __init__(self, crawl_pids: list[int]) -> None:
        self._crawl_pids = crawl_pids
        self._start = self._now()

    def _now(self) -> dict[str, float]:
        import psutil  # a development dependency, like the benchmarks

        me = psutil.Process()
        others = [child.pid for child in me.children() if child.pid not in self._crawl_pids]
        times = me.cpu_times()
        return {
            "crawl": sum(cpu_seconds(pid) for pid in self._crawl_pids),
            "bench": times.user + times.system,
            "server": sum(cpu_seconds(pid) for pid in others),
        }

    def spent(self) -> dict[str, float]:
        """CPU seconds per kind of process since the clock was made."""
        now = self._now()
        return {kind: now[kind] - self._start[kind] for kind in now}


def import_trusted(database: Database, running: RunningNetwork, workdir: Path) -> None:
    """Register every source of the running sample network, the whole network trusted: clean items
    are approved on ingest (moderation/policy.py), as a trusted network runs."""
    registry = workdir / "registry.yaml"
    write_registry(registry, running.network, running.base_url)
    with database.session() as session:
        import_registry(session, registry)
        session.execute(update(Unit).where(Unit.parent_id.is_(None)).values(auto_approve=True))


def bench_settings(workdir: Path, processes: int = 0, fast_feeds: bool = True) -> Settings:
    """Settings of a benchmark store in ``workdir`` crawling the loopback sample network.

    ``processes``: crawl worker processes (0: the default, one per core); ``fast_feeds``: feeds on the
    fast path (crawlers/fastfeed/) or, when False, on Scrapy.
    """
    return Settings(
        demo=True,
        store={"url": f"sqlite:///{workdir / 'bench.db'}"},
        search={"backend": "embedded", "embedded_path": str(workdir / "search-index")},
        # Every sample site shares one loopback host, so the per-host cap is raised to the global one
        # (the run is spread over the crawl processes, each with its share of that cap).
        crawl={
            "allowed_private_hosts": ["127.0.0.1"],
            "concurrent_requests": 64,
            "concurrent_per_host": 64,
            "processes": processes,
            "fast_feeds": fast_feeds,
        },
    )


def run(
    sources: int,
    items: int,
    workdir: Path,
    index_during_crawl: bool = True,
    processes: int = 0,
    fast_feeds: bool = True,
) -> dict[str, float | int | str]:
    """Run the benchmark once and return its figures."""
    settings = bench_settings(workdir, processes, fast_feeds)
    network = generate_network(0, 0, seed=1, items_per_site=items, feed_sources=sources)
    database = Database(settings.store.url)
    database.migrate()
    backend = open_backend(settings)
    backend.ensure_ready()
    figures: dict[str, float | int | str] = {}
    # The sample server runs in its own process: it must not share the GIL of the process that measures.
    with running_network_process(network) as running:
        import_trusted(database, running, workdir)
        # The crawl pool is a long-lived service (as in `xinlian worker`): started before the clock runs.
        pool = CrawlPool(settings)
        try:
            figures["pool_start_s"] = round(pool.start(), 2)
            cpu = CpuClock(pool.pids())
            start = time.perf_counter()
            # The index follows the crawl as the worker's outbox job does, in a thread of this process.
            with _Drainer(database, backend, settings.search.outbox_batch, enabled=index_during_crawl):
                summary = crawl(settings, None, trigger="bench", pool=pool)
                crawled = time.perf_counter()
            # The rest of the outbox, before the pool and the server stop (their shutdown is not indexing).
            while drain_outbox(database, backend, batch=settings.search.outbox_batch).applied:
                pass
            indexed = time.perf_counter()
            cpu_s = cpu.spent()
        finally:
            pool.close()
    with database.session() as session:
        stored = session.scalar(select(func.count(Item.id))) or 0
        by_state = select(Item.state, func.count(Item.id)).group_by(Item.state)
        states = {state: count for state, count in session.execute(by_state)}
    figures["index_during_crawl"] = str(index_during_crawl).lower()
    figures["fast_feeds"] = str(fast_feeds).lower()
    figures["sources"] = sources
    figures["crawl_processes"] = len(summary.parts)
    figures["sources_ok"] = summary.sources_ok
    figures["items_stored"] = stored
    figures["items_auto_approved"] = states.get(ItemState.APPROVED.value, 0)
    figures["items_pending_review"] = states.get(ItemState.PENDING.value, 0)
    figures["items_indexed"] = backend.count()
    figures["crawl_s"] = round(crawled - start, 2)
    figures["index_tail_s"] = round(indexed - crawled, 2)  # indexing left when the crawl ended
    figures["wall_s"] = round(indexed - start, 2)
    figures["items_per_s_crawl_stored"] = round(stored / (crawled - start), 1)
    figures["items_per_s_end_to_end"] = round(stored / (indexed - start), 1)
    # CPU seconds from crawl start to the last item indexed: figures the other work on the machine hardly
    # moves, unlike the wall times above (the crawl processes; this process: the runner and the drainer;
    # the sample server's process).
    figures["cpu_s_crawl_processes"] = round(cpu_s["crawl"], 2)
    figures["cpu_s_bench_process"] = round(cpu_s["bench"], 2)
    figures["cpu_s_sample_server"] = round(cpu_s["server"], 2)
    figures["cpu_ms_per_item_crawl_processes"] = round(cpu_s["crawl"] * 1000 / max(stored, 1), 3)
    figures["cpu_ms_per_item_all"] = round(sum(cpu_s.values()) * 1000 / max(stored, 1), 3)
    figures["peak_rss_worker_mib"] = round(_peak_rss_mib(resource.RUSAGE_CHILDREN), 1)
    figures["peak_rss_bench_mib"] = round(_peak_rss_mib(resource.RUSAGE_SELF), 1)
    backend.close()
    database.dispose()
    return figures


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sources", type=int, default=500, help="feed sources in the sample network")
    parser.add_argument("--items", type=int, default=20, help="items per source")
    parser.add_argument(
        "--index-during-crawl",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="drain the outbox in a thread while the crawl runs, as the worker does (else only after it)",
    )
    parser.add_argument("--processes", type=int, default=0, help="crawl processes (0: one per core)")
    parser.add_argument(
        "--fast-feeds",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="poll feeds on the fast path (crawlers/fastfeed/); --no-fast-feeds: on Scrapy, as before",
    )
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    with tempfile.TemporaryDirectory(prefix="xinlian-bench-") as tmp:
        figures = run(
            args.sources, args.items, Path(tmp), args.index_during_crawl, args.processes, args.fast_feeds
        )
    console.print("bench: ingest")
    console.print(f"machine: {platform.machine()} python {platform.python_version()}")
    console.print(f"loadavg: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    for name, value in figures.items():
        console.print(f"{name}: {value}")


if __name__ == "__main__":
    main()
