"""Benchmark: peak memory of the worker and of the web process at scale (issue 8).

Worker (``worker.*``): ``--sources`` RSS sites of the sample network (served by its own process) are
imported; a worker process (a fresh interpreter, bench/schedule.py's) starts its crawl pool and runs
one ``crawl_tick`` with every source in one batch, then makes them all due and runs another
(conditional GETs). Measured: the whole process tree (worker + crawl processes, sampled every 0.25 s:
a spike shorter than that can be missed) as summed RSS (pages shared between processes counted in
each) and summed PSS (shared pages split between their processes: what the tree really holds), and
each process's own peak (VmHWM).

Web (``web.*``): ``xinlian serve`` (one process, the command as shipped) over a SQLite store and an
embedded index of ``--items`` generated notices (bench/bigstore.py, built once and reused from
``--keep``), answering a mix of search API requests, portal pages (home, search, item, unit) and feeds
from ``--concurrency`` keep-alive connections for ``--duration`` seconds (bench/http.py's load
generator, in its own process). Measured: RSS after start-up, the tree's sampled peak under load and
the process's VmHWM, with the requests answered.

    python -m bench.memory --sources 10000 --items 1000000 --keep var/bench/store
    python -m bench.memory --sources 100 --items 20000 --duration 5        # quick
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import psutil

from bench.bigstore import ensure_store
from bench.http import READY_TIMEOUT_S, _free_port, _write_config, generate_load, page_paths, search_paths
from bench.schedule import Figures, _settings, _worker

Report = Callable[[str, str], None]
SAMPLE_EVERY_S = 0.25


def _mib(value: float) -> str:
    return f"{value / 2**20:.1f}"


def _hwm_mib(process: psutil.Process) -> float:
    """Peak RSS (VmHWM) of a live process, MiB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass  # the process ended between listing and reading: its peak is lost, said by the 0
    return 0.0


class TreeSampler:
    """Samples the summed RSS of a process and all its descendants in a thread; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self.peak_bytes = 0
        self.peak_pss_bytes = 0
        self.peak_processes = 0
        self.hwm_mib: dict[int, float] = {}  # the last VmHWM read of each process seen

    def _sample(self) -> None:
        try:
            processes = [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        total = pss = 0
        for process in processes:
            try:
                full = process.memory_full_info()  # reads smaps: PSS besides RSS
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total, pss = total + full.rss, pss + full.pss
            self.hwm_mib[process.pid] = max(self.hwm_mib.get(process.pid, 0.0), _hwm_mib(process))
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_processes = total, len(processes)
        self.peak_pss_bytes = max(self.peak_pss_bytes, pss)

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self._sample()

    def __enter__(self) -> TreeSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_worker(sources: int, workdir: Path, report: Report) -> None:
    """The worker's tree over two crawl ticks of ``sources`` sample sources (bench/schedule.py's run,
    with the worker's pid known so that its tree can be sampled)."""
    from hub.db import Database
    from hub.registry import import_registry
    from samplenet.export import write_registry
    from samplenet.generate import generate_network
    from samplenet.server import running_network_process

    network = generate_network(0, 0, seed=1, items_per_site=1, feed_sources=sources)
    database = Database(_settings(workdir, sources).store.url)
    database.migrate()
    with running_network_process(network) as running:
        registry = workdir / "registry.yaml"
        write_registry(registry, network, running.base_url)
        with database.session() as session:
            import_registry(session, registry)
        database.dispose()
        context = multiprocessing.get_context("spawn")
        queue: multiprocessing.Queue[Figures] = context.Queue()
        child = context.Process(target=_worker, args=(sources, str(workdir), queue))
        child.start()
        assert child.pid is not None
        with TreeSampler(child.pid) as sampler:
            figures = queue.get()
        child.join()
    report("worker.sources", str(sources))
    report("worker.tree_peak_pss_mib", _mib(sampler.peak_pss_bytes))
    report("worker.tree_peak_rss_mib", f"{_mib(sampler.peak_bytes)} ({sampler.peak_processes} processes)")
    report("worker.process_peak_rss_mib", str(figures["worker_peak_rss_mib"]))
    report("worker.crawl_process_peak_rss_mib", str(figures["crawl_process_peak_rss_mib"]))
    report("worker.tick1", f"{figures['tick1_sources']} sources in {figures['tick1_s']} s")
    report("worker.tick2", f"{figures['tick2_sources']} sources in {figures['tick2_s']} s")


def _feed_paths(units: list[str]) -> list[str]:
    paths = ["/feed.rss", "/feed.atom", "/feed.json", "/search/feed.rss?q=%E7%A4%BE%E5%8C%BA"]
    return paths + [f"/units/{quote(slug)}/feed.rss" for slug in units]


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"xinlian serve exited: see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # a benchmark may poll; tests may not
    raise RuntimeError(f"xinlian serve not ready after {READY_TIMEOUT_S} s: see {log}")


def run_web(items: int, seed: int, workdir: Path, concurrency: int, duration: float, report: Report) -> None:
    """``xinlian serve`` over the store of ``items`` notices, under a mixed load, sampled."""
    store = ensure_store(workdir, items, seed, report)
    pages = page_paths(store, seed)
    paths = search_paths(store.units) + [path for listed in pages.values() for path in listed]
    paths += _feed_paths([unit.slug for unit in store.units[:3]])
    port = _free_port()
    config, log = workdir / "memory.toml", workdir / "memory-serve.log"
    _write_config(config, workdir, port)
    command = [
        str(Path(sys.executable).parent / "xinlian"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {**os.environ, "XINLIAN_CONFIG": str(config)}
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(server, port, log)
        root = psutil.Process(server.pid)
        report("web.items", str(items))
        report("web.rss_started_mib", _mib(root.memory_info().rss))
        report("load_average_before_web_load", " ".join(f"{v:.2f}" for v in os.getloadavg()))
        with TreeSampler(server.pid) as sampler:
            result = generate_load([port], paths, concurrency, duration)
        report("web.tree_peak_pss_mib", _mib(sampler.peak_pss_bytes))
        report("web.tree_peak_rss_mib", f"{_mib(sampler.peak_bytes)} ({sampler.peak_processes} processes)")
        report("web.process_peak_rss_mib", f"{_hwm_mib(root):.1f}")
        report("web.rss_after_load_mib", _mib(root.memory_info().rss))
        statuses = " ".join(f"{code}:{count}" for code, count in sorted(result.statuses.items()))
        report(
            "web.requests",
            f"{len(result.latencies)} in {result.seconds:.1f} s ({statuses}), {len(paths)} paths",
        )
        report("web.connection_errors", str(result.errors))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sources", type=int, default=10_000, help="sample sources the worker crawls (0: skip)"
    )
    parser.add_argument(
        "--items", type=int, default=1_000_000, help="notices behind the web process (0: skip)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="connections kept busy on the web process")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load on the web process")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--keep", type=Path, default=None, help="build the web store in (and reuse) this directory"
    )
    args = parser.parse_args(argv)
    print("bench: memory")
    print(f"machine: {platform.machine()} python {platform.python_version()} cpus {os.cpu_count()}")

    def report(name: str, value: str) -> None:
        print(f"{name}: {value}", flush=True)

    report("load_average_before", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="xinlian-memory-") as tmp:
        if args.sources:  # first: the sample server is forked before this process has threads
            crawl_dir = Path(tmp) / "crawl"
            crawl_dir.mkdir()
            run_worker(args.sources, crawl_dir, report)
            report("load_average_after_worker", " ".join(f"{v:.2f}" for v in os.getloadavg()))
        if args.items:
            web_dir = args.keep if args.keep is not None else Path(tmp) / "web"
            run_web(args.items, args.seed, web_dir, args.concurrency, args.duration, report)
            report("load_average_after_web", " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
