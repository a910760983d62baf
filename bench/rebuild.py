"""Benchmark: rebuilding the embedded index from the database, as ``xinlian index reindex`` does it.

The store (bench/bigstore.py: ``--items`` generated notices in SQLite, bulk-inserted) is built once, or
reused from ``--keep``. The rebuild then runs in a fresh interpreter, so its memory is its own: the
same calls as the CLI command (``open_backend`` then ``index.outbox.reindex``: keyset pages of items
read with their units and reposts, analysed, written into a new generation that is swapped in).

Figures, one ``name: value`` line each: ``docs_per_s`` and ``wall_s``, ``cpu_s`` (the rebuild
process's user + system time, tantivy's indexing and merge threads included), ``peak_rss_mib`` (its
VmHWM), ``index_bytes`` (the live generation on disk) and the documents indexed.

    python -m bench.rebuild --items 1000000 --keep var/bench/store     # reruns reuse the store
    python -m bench.rebuild --items 20000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from bench.bigstore import ensure_store, store_settings

Figures = dict[str, str]


def _peak_rss_mib() -> float:
    # VmHWM: ru_maxrss would carry the peak of the process a spawned interpreter was forked from.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rebuild(workdir: str) -> Figures:
    """``xinlian index reindex`` over the store in ``workdir``, measured (runs in a fresh process)."""
    from hub.db import Database
    from index.factory import open_backend
    from index.outbox import reindex

    settings = store_settings(Path(workdir))
    database = Database(settings.store.url)
    backend = open_backend(settings)
    rss_before = _peak_rss_mib()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    try:
        result = reindex(database, backend, zone=settings.timezone)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        stats = backend.stats()
    finally:
        backend.close()
        database.dispose()
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    size = stats.size_bytes or 0
    return {
        "documents_indexed": str(result.indexed),
        "wall_s": f"{wall:.1f}",
        "docs_per_s": f"{result.indexed / wall:.0f}",
        "cpu_s": f"{cpu:.1f} (all threads: reading the store, analysis, tantivy indexing and merges)",
        "docs_per_cpu_s": f"{result.indexed / cpu:.0f}" if cpu else "n/a",
        "rss_before_mib": f"{rss_before:.0f} (the process after its imports)",
        "peak_rss_mib": f"{_peak_rss_mib():.0f}",
        "index_bytes": f"{size} ({size / 2**20:.0f} MiB, {size / max(result.indexed, 1):.0f} bytes per doc)",
    }


def _child(workdir: str, answers: multiprocessing.Queue[Figures]) -> None:
    answers.put(rebuild(workdir))


def run(items: int, seed: int, workdir: Path) -> None:
    """Build or reuse the store, then rebuild its index in a spawned interpreter and print the figures."""

    def report(name: str, value: str) -> None:
        print(f"{name}: {value}", flush=True)

    ensure_store(workdir, items, seed, report)
    report("load_average_before_rebuild", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    context = multiprocessing.get_context("spawn")
    answers: multiprocessing.Queue[Figures] = context.Queue()
    child = context.Process(target=_child, args=(str(workdir), answers))
    child.start()
    figures = answers.get()
    child.join()
    report("items", str(items))
    for name, value in figures.items():
        report(name, value)
    report("load_average_after_rebuild", " ".join(f"{v:.2f}" for v in os.getloadavg()))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=1_000_000, help="notices in the store")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--keep", type=Path, default=None, help="build the store in (and reuse) this directory"
    )
    args = parser.parse_args(argv)
    print("bench: rebuild")
    print(f"machine: {platform.machine()} python {platform.python_version()} cpus {os.cpu_count()}")
    if args.keep is not None:
        run(args.items, args.seed, args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="xinlian-rebuild-") as tmp:
        run(args.items, args.seed, Path(tmp))


if __name__ == "__main__":
    main()
