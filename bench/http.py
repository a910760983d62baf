"""Benchmark: the public search endpoint and the portal pages over HTTP, as `xinlian serve` answers them.

Set-up (not timed as throughput): a SQLite store of ``--items`` generated notices (bench/search.py's
corpus: a city, 12 districts, 120 streets, 1,440 grassroots units, every moderation state, 8 % reposts)
written with bulk inserts, and the embedded index filled with the backend's ``bulk`` in the same
chunks. Then ``--workers`` uvicorn processes serve the app on a port each (the app ``xinlian serve``
builds: same settings, JSON access log) on loopback, as web replicas behind a proxy, and a load
generator in a separate process keeps ``--concurrency`` keep-alive connections, spread evenly over
them, busy (asyncio + h11, a few tens of microseconds per request,
so it takes little of the cores it shares with the server).

Figures, one ``name: value`` line each:
- ``search.*``: ``GET /api/v1/search`` with a mixed query set (words, phrases, one character, English,
  exclusions, OR, unit/level/category/date filters, browsing, date order, recency boost, later pages;
  no facets: the API counts them only on ``?facets=true``), for ``--duration`` seconds after a warm-up:
  requests/s, latency p50/p95/p99 as the client saw it, and server time from the app's own access log
  (api/requestlog.py);
- ``search.class.<class>``: the same load's client latency per query class (p50/p99 under load), and,
  from a pass of one connection afterwards (``--class-rounds`` rounds of the set, no queueing), the
  median time per request of each class: which queries make the slow tail;
- ``pages.server_ms.<page>``: server time of the home, search, item, unit and unit directory pages
  (p50/p95) from the same log, and the server's CPU per request, while ``--page-concurrency`` clients
  load one kind of page after the other (``--page-duration`` seconds in all);
- ``target.*``: the issue's targets (>= 300 req/s with p99 <= 100 ms; pages p95 <= 50 ms), pass or fail.

    python -m bench.http                       # 100,000 notices, 2 workers, 20 s of load
    python -m bench.http --items 20000 --duration 5 --keep /tmp/xl-http   # quick, reusable store
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import h11
from sqlalchemy import insert

from bench.search import BenchUnit, Corpus
from hub.db import Database
from hub.models import Item, Source, Unit, core_table
from hub.settings import Settings
from index.backend import SearchDocument
from index.embedded import EmbeddedBackend
from samplenet.texts import CATEGORIES

CHUNK = 5_000
READY_TIMEOUT_S = 60.0
SEARCH_TARGET_RPS = 300
SEARCH_TARGET_P99_MS = 100
PAGE_TARGET_P95_MS = 50
PAGES = {
    "home": "/",
    "search": "/search",
    "item": "/items/{item_id}",
    "unit": "/units/{slug}",
    "units": "/units",
}
NOW = datetime(2025, 1, 10, 4, 0, tzinfo=UTC)  # the corpus spans 2023-2024


@dataclass(frozen=True, slots=True)
class BuiltStore:
    """What the load needs to know about the generated store."""

    units: list[BenchUnit]
    approved: list[int]


def _unit_rows(units: list[BenchUnit]) -> list[dict[str, Any]]:
    return [
        {
            "id": unit.unit_id,
            "slug": unit.slug,
            "name": unit.name,
            "parent_id": unit.ancestors[-2] if len(unit.ancestors) > 1 else None,
            "level": unit.level,
            "unit_type": unit.unit_type,
            "region_code": unit.region,
            "path": "/" + "/".join(str(a) for a in unit.ancestors) + "/",
            "website": f"http://127.0.0.1:8700/{unit.slug}/",
        }
        for unit in units
    ]


def _source_rows(units: list[BenchUnit]) -> list[dict[str, Any]]:
    rows = []
    for unit in units:
        for k in (0, 1):  # the corpus gives each notice source unit_id * 2 + 0 or 1
            failing = unit.unit_id % 7 == 0 and k == 1
            rows.append(
                {
                    "id": unit.unit_id * 2 + k,
                    "unit_id": unit.unit_id,
                    "name": f"{unit.name}{'网站' if k == 0 else '公众号'}",
                    "kind": "feed",
                    "url": f"http://127.0.0.1:8700/{unit.slug}/feed{k}.xml",
                    "last_success_at": NOW - timedelta(days=1 + unit.unit_id % 30),
                    "consecutive_failures": 3 if failing else 0,
                }
            )
    return rows


def _item_row(doc: SearchDocument) -> dict[str, Any]:
    html = "".join(f"<p>{escape(part)}</p>" for part in doc.text.split("\n") if part)
    approved = doc.state == "approved"
    return {
        "id": doc.item_id,
        "source_id": doc.source_id,
        "unit_id": doc.unit_id,
        "url": doc.url,
        "canonical_url": doc.url,
        "title": doc.title,
        "html": html,
        "text": doc.text,
        "summary": doc.summary,
        "category": doc.category,
        "published_at": doc.published_at,
        "date_source": "label" if doc.published_at else "first_seen",
        "first_seen_at": doc.first_seen_at,
        "content_hash": hashlib.sha256(doc.text.encode()).hexdigest(),
        "state": doc.state,
        "repost_of_id": doc.collapse_into,
        "reviewed_by": "审核员" if approved else None,
        "reviewed_at": doc.first_seen_at + timedelta(hours=2) if approved else None,
        "attachments": [{"name": "附件.pdf", "url": f"{doc.url}.pdf"}] if doc.has_attachments else [],
    }


def build_store(settings: Settings, count: int, seed: int, report: Any) -> BuiltStore:
    """Units, sources and ``count`` notices inserted in bulk; the index filled in the same chunks."""
    database = Database(settings.store.url)
    database.migrate()
    backend = EmbeddedBackend(Path(settings.search.embedded_path), lock_timeout_s=600)
    backend.ensure_ready()
    corpus = Corpus(count, seed)
    approved: list[int] = []
    store_s = index_s = 0.0
    with database.engine.begin() as connection:
        connection.execute(insert(core_table(Unit)), _unit_rows(corpus.units))
        connection.execute(insert(core_table(Source)), _source_rows(corpus.units))
    documents = corpus.documents()
    while chunk := list(itertools.islice(documents, CHUNK)):
        started = time.perf_counter()
        with database.engine.begin() as connection:
            connection.execute(insert(core_table(Item)), [_item_row(doc) for doc in chunk])
        indexed = time.perf_counter()
        failed = backend.bulk(chunk, []).failed
        if failed:
            raise RuntimeError(f"{len(failed)} documents not indexed: {next(iter(failed.values()))}")
        store_s += indexed - started
        index_s += time.perf_counter() - indexed
        approved += [doc.item_id for doc in chunk if doc.state == "approved"]
    report("build.items", f"{count} ({len(approved)} approved)")
    report("build.store_s", f"{store_s:.1f}")
    report("build.index_s", f"{index_s:.1f} (backend.bulk, {CHUNK} per call)")
    report("build.index_documents", str(backend.count()))
    backend.close()
    database.dispose()
    return BuiltStore(corpus.units, approved)


def search_paths(units: list[BenchUnit]) -> list[str]:
    """The mixed query set of the public search endpoint, as request targets."""
    words = [
        "社区 志愿服务", "安全生产 检查", "党建 引领", "环境整治 居民", "社区", "党建", "消防", "防汛",
        "医保", "招生", "垃圾", "检查", "党", "水", "疫", "wifi", "app", "smart", '"垃圾分类"',
        '"志愿服务活动"', '"smart city"', '"党群服务中心"', "社区 -志愿", "安全 -消防", "防汛 OR 消防",
        "医保 OR 招生",
    ]  # fmt: skip
    district, street = units[1].slug, units[2].slug
    queries: list[dict[str, str]] = [{"q": word} for word in words]
    queries += [
        {"q": "社区", "unit": district, "category": CATEGORIES[1]},
        {"q": "党建", "level": "district", "since": "2024-03-01", "until": "2024-08-31"},
        {"q": "检查", "level": "branch", "attachments": "1"},
        {"q": "消防", "unit": street},
        {"q": "社区", "sort": "date"},
        {"q": "防汛", "sort": "date"},
        {},
        {"unit": units[5].slug},
        {"category": CATEGORIES[0]},
        {"q": "社区 志愿服务", "recent": "1"},
        {"q": "党建", "recent": "1"},
        {"q": "社区", "page": "3"},
        {"q": "党建", "sort": "date", "page": "5"},
    ]
    return ["/api/v1/search?" + urlencode(query) if query else "/api/v1/search" for query in queries]


def query_class(path: str) -> str:
    """The class of a search request target, for per-class latency (which queries make the tail)."""
    query = parse_qs(urlsplit(path).query)
    text = query.get("q", [""])[0]
    if set(query) - {"q"}:  # filters, orders and pages first: they decide the work
        if "page" in query:
            return "later_page"
        if "recent" in query:
            return "recency"
        if "sort" in query:
            return "date_order"
        return "filtered" if text else "browse_filtered"
    if not text:
        return "browse"
    if text.startswith('"'):
        return "phrase"
    if " OR " in text:
        return "or"
    if " -" in text:
        return "exclusion"
    if text.isascii():
        return "english"
    if len(text) == 1:
        return "one_char"
    return "words" if " " in text else "word"


def page_paths(store: BuiltStore, seed: int) -> dict[str, list[str]]:
    """Portal pages by kind: home, search pages, item pages, unit pages of every level."""
    rng = random.Random(seed)
    by_level: dict[str, list[BenchUnit]] = defaultdict(list)
    for unit in store.units:
        by_level[unit.level].append(unit)
    units = [by_level["city"][0], *rng.sample(by_level["district"], 3), *rng.sample(by_level["street"], 3)]
    units += rng.sample([u for u in store.units if u.level not in ("city", "district", "street")], 5)
    return {
        "home": ["/"],
        "search": [
            "/search?" + urlencode({"q": q}) for q in ("社区 志愿服务", "党建", "防汛 OR 消防", "wifi")
        ],
        "item": [f"/items/{item_id}" for item_id in rng.sample(store.approved, 24)],
        "unit": [f"/units/{quote(unit.slug)}" for unit in units],
        "units": ["/units"],
    }


def serve_app() -> Any:
    """The app `xinlian serve` runs, for ``uvicorn --factory`` with several workers (settings from
    XINLIAN_CONFIG, read by hub.settings)."""
    from api.app import create_app
    from hub.logsetup import configure_logging
    from hub.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.web.log_format)
    _log_full_collections()
    return create_app(settings)


GC_LOGGER = "xinlian.bench.gc"


def _log_full_collections() -> None:
    """Log every full (generation 2) garbage collection of this worker with its pause: each one stops
    every request the worker holds (~160 ms with the app's ~190,000 tracked objects, measured
    in-process), a candidate for the search tail."""
    logger = logging.getLogger(GC_LOGGER)
    started: dict[str, float] = {}

    def observe(phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            started["at"] = time.perf_counter()
        elif "at" in started:
            pause_ms = (time.perf_counter() - started.pop("at")) * 1000
            logger.info("full collection %.2f ms", pause_ms)

    gc.callbacks.append(observe)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_config(path: Path, workdir: Path, port: int) -> None:
    path.write_text(
        "demo = true\n"
        'log_level = "INFO"\n'
        "[store]\n"
        f'url = "sqlite:///{workdir / "bench.db"}"\n'
        "[search]\n"
        'backend = "embedded"\n'
        f'embedded_path = "{workdir / "search-index"}"\n'
        "[web]\n"
        f'base_url = "http://127.0.0.1:{port}"\n'
        'log_format = "json"\n',
        encoding="utf-8",
    )


@dataclass
class Server:
    """``xinlian serve``'s app in one uvicorn process per port (each its own log file), as web replicas
    behind a proxy run: the load generator spreads its connections over the ports evenly.

    Not uvicorn's ``--workers`` on one port: the keep-alive connections of a short burst were all accepted
    by one worker (the other stayed idle; bench/RESULTS.md 2026-12-07 evening), so the figure measured one
    process however many were started."""

    ports: list[int]
    logs: list[Path]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, config: Path) -> None:
        env = {**os.environ, "XINLIAN_CONFIG": str(config)}
        for port, log_path in zip(self.ports, self.logs, strict=True):
            command = [
                sys.executable, "-m", "uvicorn", "bench.http:serve_app", "--factory",
                "--host", "127.0.0.1", "--port", str(port),
                "--no-access-log", "--proxy-headers", "--log-level", "warning",
            ]  # fmt: skip
            with log_path.open("wb") as log:
                self.processes.append(
                    subprocess.Popen(
                        command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[1]
                    )
                )
        for port, log_path, process in zip(self.ports, self.logs, self.processes, strict=True):
            self._wait_ready(port, log_path, process)

    @staticmethod
    def _wait_ready(port: int, log_path: Path, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: see {log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)  # a benchmark may poll; tests may not
        raise RuntimeError(f"server not ready after {READY_TIMEOUT_S} s: see {log_path}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server processes (user + system)."""
        return sum(self.cpu_by_process().values())

    def cpu_by_process(self) -> dict[int, float]:
        """CPU time used so far by each server process and its children (user + system), by pid."""
        import psutil  # a development dependency, like the benchmarks

        used: dict[int, float] = {}
        for server in self.processes:
            parent = psutil.Process(server.pid)
            for process in (parent, *parent.children(recursive=True)):
                times = process.cpu_times()
                used[process.pid] = times.user + times.system
        return used

    def log_size(self) -> list[int]:
        return [log.stat().st_size for log in self.logs]

    def _lines(self, since: list[int]) -> Iterator[bytes]:
        """The JSON lines every process logged after its offset in ``since``."""
        for log_path, offset in zip(self.logs, since, strict=True):
            with log_path.open("rb") as log:
                log.seek(offset)
                yield from (line for line in log if line.startswith(b"{"))

    def full_collections(self, since: list[int]) -> list[float]:
        """Pauses (ms) of the processes' full garbage collections logged after ``since``."""
        pauses = []
        for line in self._lines(since):
            if GC_LOGGER.encode() in line:
                entry = json.loads(line)
                if entry.get("logger") == GC_LOGGER:  # "full collection <ms> ms"
                    pauses.append(float(entry["message"].split()[2]))
        return pauses

    def access(self, since: list[int]) -> dict[str, list[float]]:
        """Server time (ms) per route template of the requests logged after ``since``."""
        found: dict[str, list[float]] = defaultdict(list)
        for line in self._lines(since):
            entry = json.loads(line)
            if entry.get("logger") == "xinlian.access" and entry.get("status") == 200:
                found[entry["route"]].append(float(entry["duration_ms"]))
        return found


@dataclass
class LoadResult:
    """What the load generator measured: per-request latencies (ms) and statuses, and the wall time."""

    latencies: list[float] = field(default_factory=list)
    by_path: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the load generator's own CPU time


async def _client(
    port: int, paths: list[str], order: Iterator[int], stop_at: float, result: LoadResult
) -> None:
    """One keep-alive connection sending GETs one after another until ``stop_at``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = h11.Connection(h11.CLIENT)
    headers = [("Host", f"127.0.0.1:{port}"), ("Accept", "*/*"), ("User-Agent", "xinlian-bench")]
    try:
        while time.perf_counter() < stop_at:
            turn = next(order, None)
            if turn is None:  # a fixed number of requests, all sent
                break
            path = paths[turn % len(paths)]
            started = time.perf_counter()
            writer.write(connection.send(h11.Request(method="GET", target=path, headers=headers)))
            writer.write(connection.send(h11.EndOfMessage()))
            status = 0
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError("server closed the connection")
            elapsed = (time.perf_counter() - started) * 1000
            result.latencies.append(elapsed)
            result.by_path[path].append(elapsed)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            connection.start_next_cycle()
    finally:
        writer.close()


async def _load(ports: list[int], paths: list[str], concurrency: int, seconds: float) -> LoadResult:
    result = LoadResult()
    order = itertools.count()
    started, started_cpu = time.perf_counter(), time.process_time()
    outcomes = await asyncio.gather(
        # Connection n to process n mod len(ports): evenly, as a proxy spreads requests over replicas.
        *(
            _client(ports[n % len(ports)], paths, order, started + seconds, result)
            for n in range(concurrency)
        ),
        return_exceptions=True,
    )
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - started_cpu
    result.errors = sum(1 for outcome in outcomes if isinstance(outcome, BaseException))
    return result


def _load_process(ports: list[int], paths: list[str], concurrency: int, seconds: float, answers: Any) -> None:
    """Entry of the load generator's own process."""
    answers.put(asyncio.run(_load(ports, paths, concurrency, seconds)))


def generate_load(ports: list[int], paths: list[str], concurrency: int, seconds: float) -> LoadResult:
    """Run the load generator in a separate process (its own interpreter and GIL) and wait for it."""
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    process = context.Process(target=_load_process, args=(ports, paths, concurrency, seconds, answers))
    process.start()
    result: LoadResult = answers.get(timeout=seconds + 120)
    process.join()
    return result


async def _rounds(port: int, paths: list[str], rounds: int) -> LoadResult:
    result = LoadResult()
    started = time.perf_counter()
    # One connection, no deadline: it stops when the rounds run out.
    await _client(port, paths, iter(range(rounds * len(paths))), float("inf"), result)
    result.seconds = time.perf_counter() - started
    return result


def _rounds_process(port: int, paths: list[str], rounds: int, answers: Any) -> None:
    answers.put(asyncio.run(_rounds(port, paths, rounds)))


def generate_load_rounds(port: int, paths: list[str], rounds: int) -> LoadResult:
    """Every path ``rounds`` times over one connection, in the load generator's own process."""
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    process = context.Process(target=_rounds_process, args=(port, paths, rounds, answers))
    process.start()
    result: LoadResult = answers.get(timeout=600)
    process.join()
    return result


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        value = values[0] if values else float("nan")
        return value, value, value
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def _summary(values: list[float]) -> str:
    p50, p95, p99 = _quantiles(values)
    return f"p50 {p50:.1f} p95 {p95:.1f} p99 {p99:.1f} ({len(values)} requests)"


def _report_classes(report: Any, under_load: LoadResult, alone: LoadResult) -> None:
    """Latency per query class: under the measured load (p50/p99) and with one connection (median)."""
    loaded: dict[str, list[float]] = defaultdict(list)
    single: dict[str, list[float]] = defaultdict(list)
    for path, values in under_load.by_path.items():
        loaded[query_class(path)] += values
    for path, values in alone.by_path.items():
        single[query_class(path)] += values
    for name in sorted(loaded, key=lambda name: -statistics.median(single.get(name) or [0.0])):
        p50, _, p99 = _quantiles(loaded[name])
        alone_ms = f"{statistics.median(single[name]):.1f}" if single.get(name) else "-"
        report(
            f"search.class.{name}",
            f"alone p50 {alone_ms} ms; under load p50 {p50:.1f} p99 {p99:.1f} ({len(loaded[name])} requests)",
        )


def _report_cpu(report: Any, name: str, requests: int, server_s: float, load_s: float) -> None:
    """CPU per request of the server and of the load generator: figures that other work on a shared
    machine does not inflate, and the throughput they allow on this machine's cores when idle."""
    if not requests:
        return
    server_ms, load_ms = server_s * 1000 / requests, load_s * 1000 / requests
    cores = os.cpu_count() or 1
    report(f"{name}.server_cpu_ms_per_request", f"{server_ms:.2f}")
    report(f"{name}.loadgen_cpu_ms_per_request", f"{load_ms:.2f}")
    report(
        f"{name}.idle_machine_req_per_s_estimate",
        f"{cores * 1000 / (server_ms + load_ms):.0f} ({cores} cores)",
    )


def run(args: argparse.Namespace, workdir: Path, report: Any) -> None:
    """Build (or reuse) the store, serve it, load it, report."""
    ports = [_free_port() for _ in range(args.workers)]
    config = workdir / "xinlian.toml"
    settings = Settings(
        demo=True,
        store={"url": f"sqlite:///{workdir / 'bench.db'}"},
        search={"backend": "embedded", "embedded_path": str(workdir / "search-index")},
    )
    marker = workdir / f"built-{args.items}-{args.seed}.json"
    if marker.exists():
        store = BuiltStore(Corpus(0, args.seed).units, json.loads(marker.read_text())["approved"])
        report("build.reused", str(workdir))
        reused = Database(settings.store.url)
        reused.migrate()  # a store built before the latest migration gets its indexes
        reused.dispose()
    else:
        store = build_store(settings, args.items, args.seed, report)
        marker.write_text(json.dumps({"approved": store.approved}))
    _write_config(config, workdir, ports[0])
    server = Server(ports, [workdir / f"server-{n}.log" for n in range(args.workers)])
    report("load_average_before_load", f"{os.getloadavg()[0]:.2f}")
    try:
        server.start(config)
        report("server.workers", str(args.workers))
        queries = search_paths(store.units)
        generate_load(ports, queries, args.concurrency, args.warmup)  # warm-up, not counted
        offset, before = server.log_size(), server.cpu_by_process()
        result = generate_load(ports, queries, args.concurrency, args.duration)
        after = server.cpu_by_process()
        used = {pid: seconds - before.get(pid, 0.0) for pid, seconds in after.items()}
        cpu = sum(used.values())
        served = server.access(offset)
        ok = result.statuses.get(200, 0)
        report("search.concurrency", str(args.concurrency))
        report("search.query_set", f"{len(queries)} queries, round robin")
        report("search.requests", f"{len(result.latencies)} in {result.seconds:.1f} s")
        report("search.non_200", str(len(result.latencies) - ok + result.errors))
        rps = ok / result.seconds
        report("search.req_per_s", f"{rps:.0f}")
        report("search.latency_ms", _summary(result.latencies))
        report("search.server_ms", _summary(served.get("/api/v1/search", [])))
        pauses = server.full_collections(offset)
        longest = f", longest {max(pauses):.1f} ms" if pauses else ""
        report("search.full_gc", f"{len(pauses)} in the workers, {sum(pauses):.1f} ms in all{longest}")
        _report_cpu(report, "search", len(result.latencies), cpu, result.cpu_seconds)
        # Each process's share of a core (tantivy's threads included): the load should reach them all.
        busy = sorted((seconds / result.seconds for seconds in used.values() if seconds > 0.05), reverse=True)
        report("search.worker_core_use", " / ".join(f"{share:.2f}" for share in busy))
        report("load_average_after_search", f"{os.getloadavg()[0]:.2f}")
        if args.class_rounds > 0:  # one connection: each class's own time, no queueing behind others
            alone = generate_load_rounds(ports[0], queries, args.class_rounds)
            _report_classes(report, result, alone)

        report("pages.concurrency", str(args.page_concurrency))
        worst = 0.0
        for name, paths in page_paths(store, args.seed).items():  # one kind at a time: CPU per kind
            generate_load(ports, paths, args.page_concurrency, 1.0)  # warm-up
            offset, cpu = server.log_size(), server.cpu_seconds()
            pages = generate_load(ports, paths, args.page_concurrency, args.page_duration / len(PAGES))
            cpu = server.cpu_seconds() - cpu
            times = server.access(offset).get(PAGES[name], [])
            p50, p95, _ = _quantiles(times)
            worst = max(worst, p95)
            failed = len(pages.latencies) - pages.statuses.get(200, 0) + pages.errors
            report(
                f"pages.server_ms.{name}",
                f"p50 {p50:.1f} p95 {p95:.1f} ({len(times)} requests, {failed} not 200)",
            )
            if pages.latencies:
                report(f"pages.server_cpu_ms_per_request.{name}", f"{cpu * 1000 / len(pages.latencies):.2f}")
        report("load_average_after_pages", f"{os.getloadavg()[0]:.2f}")
    finally:
        server.stop()
    p99 = _quantiles(result.latencies)[2]
    search_ok = rps >= SEARCH_TARGET_RPS and p99 <= SEARCH_TARGET_P99_MS
    goal = f">= {SEARCH_TARGET_RPS} req/s with p99 <= {SEARCH_TARGET_P99_MS} ms"
    report("target.search", f"{'pass' if search_ok else 'FAIL'} ({goal})")
    pages_ok = worst <= PAGE_TARGET_P95_MS
    report("target.pages", f"{'pass' if pages_ok else 'FAIL'} (server p95 <= {PAGE_TARGET_P95_MS} ms)")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=100_000, help="notices in the store and the index")
    parser.add_argument("--workers", type=int, default=2, help="web processes (one uvicorn each)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections kept busy on the search API")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of measured search load")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of unmeasured load first")
    parser.add_argument("--page-concurrency", type=int, default=2, help="connections loading portal pages")
    parser.add_argument("--page-duration", type=float, default=10.0, help="seconds of measured page load")
    parser.add_argument(
        "--class-rounds", type=int, default=3, help="rounds of the query set on one connection (0: none)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="build in (and reuse) this directory")
    args = parser.parse_args(argv)
    print("bench: http")
    print(f"machine: {platform.machine()} python {platform.python_version()} cpus {os.cpu_count()}")
    print(f"load_average_before: {os.getloadavg()[0]:.2f}")

    def report(name: str, value: str) -> None:
        print(f"{name}: {value}", flush=True)

    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        run(args, args.keep, report)
        return
    with tempfile.TemporaryDirectory(prefix="xinlian-http-") as tmp:
        run(args, Path(tmp), report)


if __name__ == "__main__":
    main()
