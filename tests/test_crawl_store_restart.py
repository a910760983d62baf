"""A crawl run whose store goes away at its edges (issue 8): a crawl process that gets its sources while
PostgreSQL is down waits for it and crawls them (the batch is not lost as "aborted"), and the runner
closes a run while the store is down as soon as it is back, instead of leaving the run open.

The store is a private PostgreSQL server (tests/privatepg.py): stopping the shared one would break the
tests running beside these. Runs in the PostgreSQL run (make test-postgres).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from crawlers.partition import Part
from crawlers.pool import CrawlPool, PartResult
from crawlers.runner import _close_run
from hub.crawlrecord import start_run
from hub.db import Database
from hub.models import CrawlOutcome, CrawlRun, Source
from hub.registry import import_registry
from hub.settings import Settings
from samplenet.export import write_registry
from samplenet.server import running_network
from tests.fixtures import env
from tests.fixtures.sample import make_sample_network
from tests.privatepg import PrivateServer, private_server, unavailable_reason
from tests.workers import wait_until

UNREACHABLE = "the store is unreachable"  # hub/db.py retry_on_disconnect's warning
WAIT_S = 120.0


@pytest.fixture(scope="module")
def pg(test_env: env.TestEnvironment) -> Iterator[PrivateServer]:
    if not test_env.database_url.startswith("postgres"):
        pytest.skip("runs in the PostgreSQL run (make test-postgres)")
    reason = unavailable_reason()
    if reason is not None:
        pytest.fail(f"a private PostgreSQL server is needed: {reason}")
    with private_server() as server:
        yield server


def _store(pg: PrivateServer, name: str) -> Database:
    database = Database(pg.create_database(name))
    database.migrate()
    return database


def _outcomes(database: Database, run_id: int) -> dict[int, tuple[str, str | None]]:
    with database.session() as session:
        rows = session.execute(
            select(CrawlOutcome.source_id, CrawlOutcome.status, CrawlOutcome.error_kind).where(
                CrawlOutcome.run_id == run_id
            )
        ).all()
    return {source_id: (status, kind) for source_id, status, kind in rows}


@pytest.mark.timeout(300)  # real processes and a server stopped and started on a shared machine
@pytest.mark.postgres
def test_a_crawl_process_waits_for_the_store_to_load_its_sources(
    pg: PrivateServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    database = _store(pg, "jobs")
    network = make_sample_network(districts=1, branches=2, faults=False, extras=False)
    settings = Settings(
        demo=True,
        store={"url": database.url},
        search={"backend": "embedded", "embedded_path": str(tmp_path / "search-index")},
        crawl={"allowed_private_hosts": ["127.0.0.1"], "download_timeout_s": 3.0, "retry_times": 0},
    )
    try:
        with running_network(network) as running, CrawlPool(settings, 1) as pool:
            registry = write_registry(tmp_path / "registry.yaml", network, running.base_url)
            with database.session() as session:
                import_registry(session, registry)
                source_ids = list(session.scalars(select(Source.id).order_by(Source.id)))
                run_id = start_run(session, "test", source_ids).id
            database.dispose()
            pg.stop()
            results: list[PartResult] = []
            crawling = threading.Thread(target=lambda: results.extend(pool.run(run_id, [Part(source_ids)])))
            try:
                crawling.start()
                seen: list[str] = []

                def waiting() -> bool:
                    seen.append(capfd.readouterr().err)
                    return UNREACHABLE in "".join(seen)

                # The crawl process has the job and finds the store down.
                wait_until(waiting, WAIT_S, "the crawl process to find the store down")
            finally:
                pg.start()
                crawling.join(WAIT_S * 2)
        assert not crawling.is_alive()
        assert [result.finished for result in results] == [True]
        outcomes = _outcomes(database, run_id)
        # Every source was crawled once the store was back: none recorded as aborted, none left out.
        assert set(outcomes) == set(source_ids)
        assert all(status != "failed" for status, _ in outcomes.values()), outcomes
    finally:
        database.dispose()


@pytest.mark.timeout(300)
@pytest.mark.postgres
def test_the_runner_closes_a_run_once_the_store_is_back(
    pg: PrivateServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = _store(pg, "closing")
    network = make_sample_network(districts=1, branches=1, faults=False, extras=False)
    registry = write_registry(tmp_path / "registry.yaml", network, "http://127.0.0.1:9")
    with database.session() as session:
        import_registry(session, registry)
        source_ids = list(session.scalars(select(Source.id).order_by(Source.id)))
        run_id = start_run(session, "test", source_ids).id
    database.dispose()
    errors: list[DBAPIError] = []

    def close() -> None:
        try:
            _close_run(database, run_id, source_ids, None)
        except DBAPIError as exc:  # handed to the test thread, which fails with it
            errors.append(exc)

    pg.stop()
    closing = threading.Thread(target=close)
    try:
        closing.start()
        wait_until(
            lambda: UNREACHABLE in caplog.text or bool(errors), WAIT_S, "the runner to find the store down"
        )
    finally:
        pg.start()
        closing.join(WAIT_S * 2)
    try:
        assert errors == []
        with database.session() as session:
            run = session.get(CrawlRun, run_id)
            assert run is not None and run.finished_at is not None
            assert run.sources_failed == len(source_ids)
        assert {kind for _, kind in _outcomes(database, run_id).values()} == {"aborted"}
    finally:
        database.dispose()
