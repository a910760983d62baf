"""Benchmark: HTML list + article crawl with extraction (sites without feeds).

Crawls the HTML-list sources of a sample network (list page → article pages → extraction → ingest)
and reports article pages stored per second. Prints one ``name: value`` line per figure.

    python -m bench.htmlcrawl --sites 60 --items 20
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from bench.ingest import bench_settings
from crawlers.runner import crawl
from hub.db import Database
from hub.models import Source, SourceKind
from hub.registry import import_registry
from samplenet.export import write_registry
from samplenet.generate import generate_network
from samplenet.server import running_network


def run(sites: int, items: int, workdir: Path) -> dict[str, float | int | str]:
    """Crawl the HTML-list sources of a network of about ``sites`` sites once and time it."""
    settings = bench_settings(workdir)
    districts = max(1, sites // 10)
    network = generate_network(districts, 9, seed=1, items_per_site=items, faults=False, extras=False)
    database = Database(settings.store.url)
    database.migrate()
    with running_network(network) as running:
        registry = workdir / "registry.yaml"
        write_registry(registry, network, running.base_url)
        with database.session() as session:
            import_registry(session, registry)
            html_ids = list(session.scalars(select(Source.id).where(Source.kind == SourceKind.HTML.value)))
        start = time.perf_counter()
        summary = crawl(settings, html_ids, trigger="bench")
        elapsed = time.perf_counter() - start
    database.dispose()
    return {
        "html_sources": len(html_ids),
        "sources_ok": summary.sources_ok,
        "article_pages_stored": summary.items_new,
        "crawl_s": round(elapsed, 2),
        "article_pages_per_s": round(summary.items_new / elapsed, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=60, help="sites in the sample network (all templates)")
    parser.add_argument("--items", type=int, default=20, help="articles per site")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    with tempfile.TemporaryDirectory(prefix="xinlian-bench-") as tmp:
        figures = run(args.sites, args.items, Path(tmp))
    console.print("bench: htmlcrawl")
    console.print(f"machine: {platform.machine()} python {platform.python_version()}")
    for name, value in figures.items():
        console.print(f"{name}: {value}")


if __name__ == "__main__":
    main()
