"""Benchmark: HTML list + article crawl with extraction (sites without feeds).

Crawls the HTML-list sources of a sample network (list page → article pages → extraction → ingest)
and reports article pages stored per second. Prints one ``name: value`` line per figure.

The crawl runs on a pool of long-lived crawl processes started beforehand, as ``xinlian worker``
runs them (``pool_start_s`` is their start-up, not part of the timed crawl); the sample network is
served from its own process. Fetching, Scrapy, extraction and ingest are all in the timed crawl.

Besides the crawl, it times the HTML path alone in this process, over the same network's pages:

- ``pages_per_s_extract``: decode + ``extract_article`` of every sample article page (1–2 KB), with
  the source's selectors as the crawl has them;
- ``pages_per_s_extract_30kb``: the same pages inside a busy portal's chrome (bench/htmlpages.py);
- ``list_pages_per_s``: decode + ``read_list_page`` of every list page (with the selectors too);
- each of these also ``..._per_cpu_s``: per CPU second of this process, steadier on a busy machine;
- ``worker_import_s``: what a crawl process spends importing before it can fetch anything (paid
  once per pool process, or once per crawl where crawls start their own process);
- ``article_pages_per_s_after_first_store``: pages stored after the first batch, divided by the time
  between the first and the last batch (start-up and the first fetches left out);
- ``crawl_cpu_s`` / ``server_cpu_s``: CPU seconds the crawl processes and the sample server used
  during the crawl, and ``article_pages_per_crawl_cpu_s``: what one core of crawl processes does
  (the end-to-end ceiling on two otherwise idle cores is about twice that, less the server's share).

    python -m bench.htmlcrawl --sites 60 --items 20 [--processes N]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path

import psutil
from rich.console import Console
from sqlalchemy import func, select

from bench.htmlpages import SamplePage, portal_article, sample_articles, sample_lists
from bench.ingest import bench_settings
from crawlers.decode import decode_html
from crawlers.extract import extract_article
from crawlers.listpage import read_list_page
from crawlers.pool import CrawlPool
from crawlers.runner import crawl
from hub.db import Database
from hub.models import Item, Source, SourceKind
from hub.registry import import_registry
from samplenet.export import write_registry
from samplenet.generate import generate_network
from samplenet.model import SampleNetwork
from samplenet.server import running_network_process

# Each in-process figure times at least this many pages (the page set repeated as needed).
MIN_TIMED_PAGES = 2000


def _rates(pages: Sequence[SamplePage], work: Callable[[SamplePage], object]) -> tuple[float, float]:
    """Pages per wall-clock second and per CPU second of this process (the second figure moves
    less when other work shares the cores)."""
    for page in pages[:20]:  # warm caches (compiled selectors, the XSLT) outside the timing
        work(page)
    rounds = max(1, -(-MIN_TIMED_PAGES // max(1, len(pages))))
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for page in pages:
            work(page)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    done = rounds * len(pages)
    return round(done / wall, 1), round(done / cpu, 1)


def _extract(page: SamplePage) -> object:
    text = decode_html(page.body, None).text
    return extract_article(text, page.url, 1, page.selectors, site_name=page.site_name)


def _read_list(page: SamplePage) -> object:
    return read_list_page(decode_html(page.body, None).text, page.url, page.selectors, "Asia/Shanghai")


def html_path_figures(network: SampleNetwork) -> dict[str, float | int | str]:
    """Extraction and list reading timed in this process over the network's own pages."""
    articles = sample_articles(network)
    portal = [portal_article(network, page) for page in articles]
    lists = sample_lists(network)
    extract_wall, extract_cpu = _rates(articles, _extract)
    portal_wall, portal_cpu = _rates(portal, _extract)
    lists_wall, lists_cpu = _rates(lists, _read_list)
    return {
        "sample_article_pages": len(articles),
        "sample_article_kib": round(sum(len(p.body) for p in articles) / len(articles) / 1024, 1),
        "pages_per_s_extract": extract_wall,
        "pages_per_cpu_s_extract": extract_cpu,
        "portal_article_kib": round(sum(len(p.body) for p in portal) / len(portal) / 1024, 1),
        "pages_per_s_extract_30kb": portal_wall,
        "pages_per_cpu_s_extract_30kb": portal_cpu,
        "list_pages_per_s": lists_wall,
        "list_pages_per_cpu_s": lists_cpu,
    }


def _cpu_seconds(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        with suppress(psutil.NoSuchProcess):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def worker_import_seconds() -> float:
    """Wall time of ``import crawlers.process`` in a fresh interpreter (the crawl worker's start-up)."""
    code = "import time; t = time.perf_counter(); import crawlers.process; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return round(float(done.stdout.strip()), 2)


def run(sites: int, items: int, workdir: Path, processes: int = 0) -> dict[str, float | int | str]:
    """Crawl the HTML-list sources of a network of about ``sites`` sites once and time it."""
    settings = bench_settings(workdir, processes)
    districts = max(1, sites // 10)
    network = generate_network(districts, 9, seed=1, items_per_site=items, faults=False, extras=False)
    database = Database(settings.store.url)
    database.migrate()
    with running_network_process(network) as running:
        registry = workdir / "registry.yaml"
        write_registry(registry, network, running.base_url)
        with database.session() as session:
            import_registry(session, registry)
            html_ids = list(session.scalars(select(Source.id).where(Source.kind == SourceKind.HTML.value)))
        pool = CrawlPool(settings)
        try:
            pool_start_s = pool.start()
            crawlers = pool.pids()
            # The other child of this process is the sample server.
            server = [c.pid for c in psutil.Process().children() if c.pid not in crawlers]
            cpu_before = _cpu_seconds(crawlers), _cpu_seconds(server)
            start = time.perf_counter()
            summary = crawl(settings, html_ids, trigger="bench", pool=pool)
            elapsed = time.perf_counter() - start
            crawl_cpu = _cpu_seconds(crawlers) - cpu_before[0]
            server_cpu = _cpu_seconds(server) - cpu_before[1]
        finally:
            pool.close()
    with database.session() as session:
        first, last = session.execute(
            select(func.min(Item.first_seen_at), func.max(Item.first_seen_at))
        ).one()
        after_first = session.scalar(select(func.count(Item.id)).where(Item.first_seen_at > first)) or 0
    database.dispose()
    span = (last - first).total_seconds() if first is not None and last is not None else 0.0
    figures: dict[str, float | int | str] = {
        "html_sources": len(html_ids),
        "crawl_processes": len(summary.parts),
        "pool_start_s": round(pool_start_s, 2),
        "sources_ok": summary.sources_ok,
        "article_pages_stored": summary.items_new,
        "crawl_s": round(elapsed, 2),
        "article_pages_per_s": round(summary.items_new / elapsed, 1),
        "article_pages_per_s_after_first_store": round(after_first / span, 1) if span > 0 else 0.0,
        "crawl_cpu_s": round(crawl_cpu, 2),
        "server_cpu_s": round(server_cpu, 2),
        "article_pages_per_crawl_cpu_s": round(summary.items_new / crawl_cpu, 1) if crawl_cpu > 0 else 0.0,
        "worker_import_s": worker_import_seconds(),
    }
    figures.update(html_path_figures(network))
    return figures


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=60, help="sites in the sample network (all templates)")
    parser.add_argument("--items", type=int, default=20, help="articles per site")
    parser.add_argument("--processes", type=int, default=0, help="crawl processes (0: crawl.processes)")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="xinlian-bench-") as tmp:
        figures = run(args.sites, args.items, Path(tmp), args.processes)
    console.print("bench: htmlcrawl")
    console.print(f"machine: {platform.machine()} python {platform.python_version()} cores {os.cpu_count()}")
    console.print(f"loadavg_before: {load_before}")
    console.print(f"loadavg_after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    for name, value in figures.items():
        console.print(f"{name}: {value}")


if __name__ == "__main__":
    main()
