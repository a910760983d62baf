"""Benchmark: feed parsing alone, the lxml fast path against feedparser, on the same input.

Input: the sample network's benchmark shape (500 feeds x 20 items, one feed in five GBK), rendered
once. Both paths run the whole of ``crawlers.feeds.parse_feed`` (decoding, reading, entry HTML,
dates) in this one process; ``fast=False`` forces feedparser. Prints ``name: value`` lines; CPU
seconds are given beside wall seconds because the machine is shared.

    python -m bench.feedparse --sources 500 --items 20
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from rich.console import Console

from crawlers.feeds import parse_feed
from samplenet import render_feeds
from samplenet.generate import generate_network

BASE = "http://127.0.0.1:8000"


def _feeds(sources: int, items: int) -> list[tuple[bytes, str, str]]:
    network = generate_network(0, 0, seed=1, items_per_site=items, feed_sources=sources)
    feeds = []
    for site in network.sites:
        content_type = f"application/rss+xml; charset={site.feed_encoding.upper()}"
        feeds.append((render_feeds.rss_feed(site, site.items, BASE), BASE + site.source_path, content_type))
    return feeds


def _run(feeds: list[tuple[bytes, str, str]], fast: bool) -> tuple[int, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    parsed = sum(
        len(parse_feed(body, 1, url, content_type, fast=fast).entries) for body, url, content_type in feeds
    )
    return parsed, time.perf_counter() - wall, time.process_time() - cpu


def run(sources: int, items: int) -> dict[str, float | int | str]:
    """Parse the same feeds with both paths and return the figures."""
    feeds = _feeds(sources, items)
    figures: dict[str, float | int | str] = {
        "feeds": len(feeds),
        "feeds_gbk": sum(1 for _, _, content_type in feeds if content_type.endswith("GBK")),
        "megabytes": round(sum(len(body) for body, _, _ in feeds) / 1e6, 1),
    }
    _run(feeds[:20], True)  # warm imports and caches
    for name, fast in (("fast", True), ("feedparser", False)):
        parsed, wall, cpu = _run(feeds, fast)
        figures[f"{name}_items"] = parsed
        figures[f"{name}_wall_s"] = round(wall, 2)
        figures[f"{name}_cpu_s"] = round(cpu, 2)
        figures[f"{name}_items_per_s"] = round(parsed / wall, 1)
        figures[f"{name}_items_per_cpu_s"] = round(parsed / cpu, 1)
    figures["speedup_cpu"] = round(float(figures["feedparser_cpu_s"]) / float(figures["fast_cpu_s"]), 1)
    figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    return figures


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sources", type=int, default=500, help="feeds to parse")
    parser.add_argument("--items", type=int, default=20, help="items per feed")
    args = parser.parse_args(argv)
    figures = run(args.sources, args.items)
    console = Console(highlight=False)
    console.print("bench: feedparse")
    console.print(f"machine: {platform.machine()} python {platform.python_version()}")
    for name, value in figures.items():
        console.print(f"{name}: {value}")


if __name__ == "__main__":
    main()
