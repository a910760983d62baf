"""Benchmark: embedded search latency with and without an ingest feeding the same index (issue 8).

The index is pre-filled with ``--docs`` notices of bench/search.py's corpus (``EmbeddedBackend.rebuild``;
their item ids start at 10,000,001 so that the ingest's items add to them instead of replacing them).
This process then searches it with bench/search.py's mixed query set (cursor pages left out: they
would need a walk first), one query after another:

- ``idle.search_ms``: ``--rounds`` passes with nothing else writing to the index;
- ``during_ingest.search_ms``: every pass from the moment the first ingested notice is searchable until
  the ingest has finished: bench/ingest.py's cold ingest of ``--sources`` × ``--items`` sample feeds
  (sample server, crawl pool, and the outbox drained into this same index directory by a thread of the
  ingest's process, as the worker does), run in a process of its own as the worker runs beside the web
  app. The machine's two cores are shared by both: the figure is what a web process on the same
  machine as a busy worker sees.

p50/p95/p99 in ms of wall clock per search; ``search_cpu_ms``: this process's CPU time per search.

    python -m bench.search_ingest --docs 100000 --sources 500 --items 20
    python -m bench.search_ingest --docs 2000 --sources 10 --items 3 --rounds 1    # quick
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from bench.ingest import bench_settings
from bench.ingest import run as run_ingest
from bench.search import Corpus, query_set
from index.backend import SearchDocument, SearchQuery
from index.embedded import EmbeddedBackend

ID_OFFSET = 10_000_000  # the pre-filled notices' ids, clear of the ingest's (which start at 1)
Figures = dict[str, float | int | str]


def _shifted(corpus: Corpus) -> Iterator[SearchDocument]:
    return (
        replace(
            doc,
            item_id=doc.item_id + ID_OFFSET,
            collapse_into=doc.collapse_into + ID_OFFSET if doc.collapse_into else None,
        )
        for doc in corpus.documents()
    )


def _percentiles(values: list[float]) -> str:
    if not values:
        return "n/a (no searches)"
    ordered = sorted(values)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    return f"p50 {at(0.5):.2f} p95 {at(0.95):.2f} p99 {at(0.99):.2f} ({len(values)} searches)"


def _pass(backend: EmbeddedBackend, queries: list[SearchQuery], wall: list[float], cpu: list[float]) -> None:
    for query in queries:
        started, started_cpu = time.perf_counter(), time.process_time()
        backend.search(query)
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)


def _ingest(sources: int, items: int, workdir: str, answers: multiprocessing.Queue[Figures]) -> None:
    answers.put(run_ingest(sources, items, Path(workdir)))


def run(docs: int, sources: int, items: int, rounds: int, seed: int, workdir: Path) -> None:
    """Pre-fill, search idle, search during the ingest; print the figures."""

    def report(name: str, value: object) -> None:
        print(f"{name}: {value}", flush=True)

    settings = bench_settings(workdir)
    backend = EmbeddedBackend(Path(settings.search.embedded_path), lock_timeout_s=600)
    backend.ensure_ready()
    corpus = Corpus(docs, seed)
    started = time.perf_counter()
    prefilled = backend.rebuild(_shifted(corpus))
    report("docs", docs)
    report("prefill_docs", f"{prefilled} in {time.perf_counter() - started:.1f} s")
    kinds = query_set(corpus.units)
    queries = [query for kind, listed in kinds.items() if kind != "cursor_page" for query in listed]
    report("queries_per_pass", len(queries))
    _pass(backend, queries, [], [])  # page cache and searcher warm-up, not counted
    report("load_average_before_idle", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    idle_wall: list[float] = []
    idle_cpu: list[float] = []
    for _ in range(rounds):
        _pass(backend, queries, idle_wall, idle_cpu)
    report("idle.search_ms", _percentiles(idle_wall))
    report("idle.search_cpu_ms", _percentiles(idle_cpu))

    context = multiprocessing.get_context("spawn")
    answers: multiprocessing.Queue[Figures] = context.Queue()
    child = context.Process(target=_ingest, args=(sources, items, str(workdir), answers))
    report("load_average_before_ingest", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    child.start()
    busy_wall: list[float] = []
    busy_cpu: list[float] = []
    while child.is_alive():
        if backend.count() <= prefilled:  # the ingest is still starting: nothing of it searchable yet
            _pass(backend, queries[:1], [], [])
            continue
        _pass(backend, queries, busy_wall, busy_cpu)
    figures = answers.get()
    child.join()
    report("load_average_after_ingest", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    report("during_ingest.search_ms", _percentiles(busy_wall))
    report("during_ingest.search_cpu_ms", _percentiles(busy_cpu))
    report("index_docs_after", backend.count())
    for name in ("sources", "items_stored", "wall_s", "items_per_s_end_to_end"):
        report(f"ingest.{name}", figures.get(name, "n/a"))
    backend.close()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=100_000, help="notices pre-filled into the index")
    parser.add_argument("--sources", type=int, default=500, help="feed sources the ingest crawls")
    parser.add_argument("--items", type=int, default=20, help="items per source")
    parser.add_argument("--rounds", type=int, default=10, help="passes over the query set with no ingest")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print("bench: search_ingest")
    print(f"machine: {platform.machine()} python {platform.python_version()} cpus {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="xinlian-search-ingest-") as tmp:
        run(args.docs, args.sources, args.items, args.rounds, args.seed, Path(tmp))


if __name__ == "__main__":
    main()
