"""Benchmark: the scheduler tick at scale, and the worker's memory over a real crawl tick.

Claim: a store of ``--sources`` sources (100,000 by default: ~10,000 units, most sites on hosts of
their own, 30 % on 20 shared platform hosts; 1 % never checked, ``--due`` of them due, 3 % disabled,
the rest due within a day) on SQLite and on PostgreSQL. Timed: ``claim_due_sources`` of one batch
(worker.batch 200, per-host cap 20) over consecutive ticks, the same when every source is due at once
(after an outage) and when none was ever checked (after importing the registry), and the recording
path of one batch (200 outcomes written as the crawl ledger does, then ``reschedule_run``). Peak RSS
of this process covers the claim and recording path on real rows.

Crawl: ``--crawl-sources`` RSS sites of the sample network (served by its own process) are imported,
then a worker process (a fresh interpreter) starts its crawl pool and runs one ``crawl_tick`` with
every source in one batch, makes them all due and runs another (conditional GETs); peak RSS of the
worker process and of each crawl process.

    python -m bench.schedule --sources 100000 --crawl-sources 10000
    python -m bench.schedule --stores sqlite --crawl-sources 0      # claims only
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.engine import make_url

from bench.ingest import bench_settings
from hub.crawlrecord import record_outcome, start_run
from hub.db import Database, normalize_url
from hub.models import Source, Unit, core_table
from hub.schedule.reschedule import reschedule_run
from hub.scheduler import claim_due_sources
from hub.settings import ScheduleSettings, Settings
from hub.timeutil import utcnow

Figures = dict[str, float | int | str]
PLATFORM_HOSTS = 20
UNITS_PER_DISTRICT = 200


def _rss_mib() -> float:
    """Peak resident set size of this process so far, MiB.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a spawned interpreter
    would report the peak of the process it was forked from.
    """
    return _hwm_mib(os.getpid())


def _hwm_mib(pid: int) -> float:
    """Peak resident set size of process ``pid`` (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@contextmanager
def _store(kind: str, workdir: Path, pg_url: str) -> Iterator[Database]:
    """A fresh, migrated store: a SQLite file in ``workdir`` or a new PostgreSQL database."""
    if kind == "sqlite":
        database = Database(f"sqlite:///{workdir / 'schedule.db'}")
        database.migrate()
        try:
            yield database
        finally:
            database.dispose()
        return
    name = f"xinlian_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        make_url(normalize_url(pg_url)).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database(make_url(normalize_url(pg_url)).set(database=name).render_as_string(False))
    try:
        database.migrate()
        yield database
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fill(database: Database, sources: int, due_share: float, seed: int) -> None:
    """``sources`` sources under a city, districts and branches, with a realistic due mix."""
    rng = random.Random(seed)
    now = utcnow()
    units = max(sources // 10, 2)
    districts = max(units // UNITS_PER_DISTRICT, 1)
    unit_rows = [
        {"id": 1, "slug": "city", "name": "市", "level": "city", "path": "/1/", "unit_type": "government"}
    ]
    for n in range(2, units + 1):
        district = n <= districts + 1
        parent = 1 if district else 2 + (n % districts)
        unit_rows.append(
            {
                "id": n,
                "slug": f"u{n}",
                "name": f"单位{n}",
                "level": "district" if district else "branch",
                "parent_id": parent,
                "path": f"/1/{n}/" if district else f"/1/{parent}/{n}/",
                "unit_type": "government",
            }
        )
    source_rows = []
    for n in range(sources):
        roll = rng.random()
        if roll < 0.01:
            next_check = None
        elif roll < 0.01 + due_share:
            next_check = now - timedelta(seconds=rng.uniform(0, 3600))
        else:
            next_check = now + timedelta(seconds=rng.uniform(60, 86400))
        host = (
            f"platform{rng.randrange(PLATFORM_HOSTS)}.example.cn"
            if rng.random() < 0.3
            else f"s{n}.example.cn"
        )
        source_rows.append(
            {
                "unit_id": 1 + n % units,
                "name": f"source {n}",
                "kind": "feed",
                "url": f"http://{host}/{n}/rss.xml",
                "selectors": {},
                "enabled": rng.random() >= 0.03,
                "check_interval_s": 3600,
                "next_check_at": next_check,
                "consecutive_failures": 0,
                "total_failures": 0,
                "moved_count": 0,
                "created_at": now,
            }
        )
    with database.session() as session:
        session.execute(insert(core_table(Unit)), unit_rows)
        for start in range(0, len(source_rows), 10_000):
            session.execute(insert(core_table(Source)), source_rows[start : start + 10_000])
    with database.engine.connect() as conn:  # fresh statistics, as autovacuum would keep them
        conn.execute(text("ANALYZE"))
        conn.commit()


def _reset(database: Database, next_check_at: datetime | None) -> None:
    """Every source's next check set to one value, leases cleared, statistics refreshed."""
    with database.session() as session:
        session.execute(
            update(Source).values(next_check_at=next_check_at, leased_until=None, lease_owner=None)
        )
    with database.engine.connect() as conn:  # autovacuum's analyze follows a mass update on PostgreSQL
        conn.execute(text("ANALYZE"))
        conn.commit()


def _claims(database: Database, ticks: int, batch: int, cap: int) -> list[float]:
    times = []
    for tick in range(ticks):
        start = time.perf_counter()
        with database.session() as session:
            claim_due_sources(session, batch, cap, 900, owner=f"bench-{tick}")
        times.append(time.perf_counter() - start)
    return times


def _record_batch(database: Database, batch: int, cap: int) -> tuple[int, float, float]:
    """Claim a batch, write its outcomes as the crawl ledger does, reschedule: (sources, record_s,
    reschedule_s)."""
    with database.session() as session:
        claimed = claim_due_sources(session, batch, cap, 900, owner="bench-record")
    rng = random.Random(1)
    start = time.perf_counter()
    with database.session() as session:
        run_id = start_run(session, "bench", claimed).id
        loaded = session.scalars(select(Source).where(Source.id.in_(claimed))).all()  # as the ledger does
        for n, source_id in enumerate(claimed):
            if n % 10 == 9:
                record_outcome(
                    session, run_id, source_id, "failed", "timeout", message="read timed out", flush=False
                )
            else:
                record_outcome(
                    session,
                    run_id,
                    source_id,
                    "ok",
                    http_status=200,
                    items_seen=20,
                    items_new=n % 3,
                    flush=False,
                )
        session.flush()
        del loaded
    recorded = time.perf_counter()
    with database.session() as session:
        reschedule_run(session, run_id, ScheduleSettings(), utcnow(), rng)
    return len(claimed), recorded - start, time.perf_counter() - recorded


def run_claims(kind: str, sources: int, due_share: float, ticks: int, workdir: Path, pg_url: str) -> Figures:
    """The claim and recording figures of one store."""
    figures: Figures = {}
    with _store(kind, workdir, pg_url) as database:
        start = time.perf_counter()
        _fill(database, sources, due_share, seed=1)
        figures[f"{kind}_fill_s"] = round(time.perf_counter() - start, 1)
        claimed, record_s, reschedule_s = _record_batch(database, 200, 20)
        figures[f"{kind}_record_{claimed}_outcomes_s"] = round(record_s, 3)
        figures[f"{kind}_reschedule_{claimed}_s"] = round(reschedule_s, 3)
        times = _claims(database, ticks, 200, 20)
        figures[f"{kind}_claim_200_of_{sources}_p50_s"] = round(statistics.median(times), 4)
        figures[f"{kind}_claim_200_of_{sources}_max_s"] = round(max(times), 4)
        # An outage: everything due at once (one timestamp: the worst case for the order's ties).
        _reset(database, utcnow() - timedelta(hours=2))
        times = _claims(database, ticks, 200, 20)
        figures[f"{kind}_claim_200_all_due_p50_s"] = round(statistics.median(times), 4)
        figures[f"{kind}_claim_200_all_due_max_s"] = round(max(times), 4)
        times = _claims(database, 3, 2000, 200)
        figures[f"{kind}_claim_2000_all_due_max_s"] = round(max(times), 4)
        _reset(database, None)  # a fresh import: nothing checked yet
        times = _claims(database, ticks, 200, 20)
        figures[f"{kind}_claim_200_never_checked_p50_s"] = round(statistics.median(times), 4)
        figures[f"{kind}_claim_200_never_checked_max_s"] = round(max(times), 4)
    figures[f"{kind}_peak_rss_mib"] = _rss_mib()
    return figures


def _settings(workdir: Path, sources: int) -> Settings:
    """The benchmark's settings, with one worker batch taking every source (the memory's worst case)."""
    base = bench_settings(workdir)
    worker = base.worker.model_copy(update={"batch": sources, "per_host_cap": sources})
    return base.model_copy(update={"worker": worker})


def _worker(sources: int, workdir: str, out: multiprocessing.Queue[Figures]) -> None:
    """The worker's part, in a fresh interpreter: start a crawl pool, two crawl ticks."""
    from cli.worker_cmd import crawl_tick  # the worker's own imports, counted in its memory
    from crawlers.pool import CrawlPool

    settings = _settings(Path(workdir), sources)
    database = Database(settings.store.url)
    figures: Figures = {}
    pool = CrawlPool(settings)
    try:
        pool.start()
        figures["worker_rss_started_mib"] = _rss_mib()
        start = time.perf_counter()
        figures["tick1_sources"] = crawl_tick(settings, database, pool, rng=random.Random(1), owner="bench")
        figures["tick1_s"] = round(time.perf_counter() - start, 1)
        with database.session() as session:
            session.execute(update(Source).values(next_check_at=utcnow()))
        start = time.perf_counter()
        figures["tick2_sources"] = crawl_tick(settings, database, pool, rng=random.Random(2), owner="bench")
        figures["tick2_s"] = round(time.perf_counter() - start, 1)
        figures["crawl_process_peak_rss_mib"] = max(_hwm_mib(pid) for pid in pool.pids())
    finally:
        pool.close()
        database.dispose()
    figures["worker_peak_rss_mib"] = _rss_mib()
    out.put(figures)


def run_crawl(sources: int, workdir: Path) -> Figures:
    """Peak RSS of a worker process over two crawl ticks of ``sources`` sample sources.

    This process builds the sample network, serves it from a forked child and imports the registry;
    the worker is a spawned interpreter, so the network and the import are not in its memory.
    """
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
        figures: Figures = {"crawl_sources": sources, **queue.get()}
        child.join()
    return figures


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sources", type=int, default=100_000, help="sources in the claim store")
    parser.add_argument("--due", type=float, default=0.05, help="share of them due (besides never checked)")
    parser.add_argument("--ticks", type=int, default=10, help="claims timed per scenario")
    parser.add_argument("--stores", default="sqlite,postgres", help="comma list: sqlite, postgres")
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL server (a database is made)",
    )
    parser.add_argument("--crawl-sources", type=int, default=2000, help="sample sources crawled (0: none)")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    console.print("bench: schedule")
    console.print(f"machine: {platform.machine()} python {platform.python_version()}")
    console.print(f"loadavg: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    with tempfile.TemporaryDirectory(prefix="xinlian-bench-") as tmp:
        if args.crawl_sources:
            # First: the child is forked before this process opens connections or threads.
            crawl_dir = Path(tmp) / "crawl"
            crawl_dir.mkdir()
            for name, value in run_crawl(args.crawl_sources, crawl_dir).items():
                console.print(f"{name}: {value}")
            console.print(f"loadavg: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        for kind in [part.strip() for part in args.stores.split(",") if part.strip()]:
            try:
                figures = run_claims(kind, args.sources, args.due, args.ticks, Path(tmp), args.pg_url)
            except Exception as exc:  # a missing PostgreSQL server skips its figures, said so
                if kind != "postgres":
                    raise
                console.print(f"postgres: skipped ({type(exc).__name__}: {exc})")
                continue
            for name, value in figures.items():
                console.print(f"{name}: {value}")
            console.print(f"loadavg: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
