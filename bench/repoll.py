"""Benchmark: re-poll of N feed sources when nothing changed (conditional GET → 304, nothing parsed).

A first crawl fills the store; the second crawl of the same sources is the figure. Crawls run on a
pool of long-lived crawl processes started beforehand, as in ``xinlian worker`` (its start-up is its
own figure); the sample network is served from its own process. Prints one ``name: value`` line per
figure.

    python -m bench.repoll --sources 500 --items 20
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from rich.console import Console

from bench.ingest import CpuClock, bench_settings
from crawlers.pool import CrawlPool
from crawlers.runner import crawl
from hub.db import Database
from hub.registry import import_registry
from samplenet.export import write_registry
from samplenet.generate import generate_network
from samplenet.server import running_network_process


def run(
    sources: int, items: int, workdir: Path, processes: int = 0, fast_feeds: bool = True
) -> dict[str, float | int | str]:
    """Crawl once, then time a second crawl of the same sources."""
    settings = bench_settings(workdir, processes, fast_feeds)
    network = generate_network(0, 0, seed=1, items_per_site=items, feed_sources=sources)
    database = Database(settings.store.url)
    database.migrate()
    with running_network_process(network) as running:
        registry = workdir / "registry.yaml"
        write_registry(registry, network, running.base_url)
        with database.session() as session:
            import_registry(session, registry)
        pool = CrawlPool(settings)
        try:
            pool_start_s = pool.start()  # a long-lived service: not part of the timed crawl
            first = crawl(settings, None, trigger="bench", pool=pool)
            clock = CpuClock(pool.pids())
            start = time.perf_counter()
            again = crawl(settings, None, trigger="bench", pool=pool)
            elapsed = time.perf_counter() - start
            cpu_s = clock.spent()
        finally:
            pool.close()
    database.dispose()
    not_modified = sum(1 for outcome in again.outcomes if outcome.status == "not_modified")
    return {
        "sources": sources,
        "fast_feeds": str(fast_feeds).lower(),
        "crawl_processes": len(again.parts),
        "pool_start_s": round(pool_start_s, 2),
        "first_items_new": first.items_new,
        "repoll_sources_ok": again.sources_ok,
        "repoll_not_modified": not_modified,
        "repoll_items_new": again.items_new,
        "repoll_items_updated": again.items_updated,
        "repoll_s": round(elapsed, 2),
        "sources_per_s_repoll": round(sources / elapsed, 1),
        # CPU the crawl processes spent on the re-poll: a figure other processes' load hardly moves.
        "repoll_cpu_s_crawl_processes": round(cpu_s["crawl"], 2),
        "cpu_ms_per_source": round(cpu_s["crawl"] * 1000 / sources, 2),
        # The run's own bookkeeping (claim, run row, summary) and the sample server's answers share
        # the two cores with the crawl processes: the re-poll's wall clock is all three.
        "repoll_cpu_s_bench_process": round(cpu_s["bench"], 2),
        "repoll_cpu_s_sample_server": round(cpu_s["server"], 2),
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sources", type=int, default=500, help="feed sources in the sample network")
    parser.add_argument("--items", type=int, default=20, help="items per source")
    parser.add_argument("--processes", type=int, default=0, help="crawl processes (0: crawl.processes)")
    parser.add_argument(
        "--fast-feeds",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="poll feeds on the fast path (crawlers/fastfeed/); --no-fast-feeds: on Scrapy, as before",
    )
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    with tempfile.TemporaryDirectory(prefix="xinlian-bench-") as tmp:
        figures = run(args.sources, args.items, Path(tmp), args.processes, args.fast_feeds)
    console.print("bench: repoll")
    console.print(f"machine: {platform.machine()} python {platform.python_version()}")
    console.print(f"loadavg: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    for name, value in figures.items():
        console.print(f"{name}: {value}")


if __name__ == "__main__":
    main()
