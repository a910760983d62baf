"""PostgreSQL restart (issue 8): the worker and the web app ride out ``pg_ctl restart -m fast`` without
manual action, and in-flight work is retried, not lost.

The store is a private PostgreSQL server started for this module (tests/privatepg.py): restarting the
shared one would break the tests running beside these. Runs in the PostgreSQL run (make test-postgres).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from api.app import create_app
from hub.apitokens import create_token
from hub.db import Database, is_disconnect, make_engine, retry_on_disconnect
from hub.models import CrawlOutcome, Item, Role, Source
from hub.registry import import_registry
from hub.settings import Settings
from index.factory import open_backend
from samplenet.export import ground_truth, write_registry
from samplenet.server import running_network
from tests.fixtures import env
from tests.fixtures.sample import make_sample_network
from tests.fixtures.web import add_user
from tests.privatepg import PrivateServer, private_server, unavailable_reason
from tests.workers import (
    base_sections,
    crawl_settled,
    expected_urls,
    free_port,
    indexed_states,
    store_problems,
    wait_until,
    worker_process,
    write_config,
)

SETTLE_TIMEOUT_S = 240.0
UNREACHABLE = "the store is unreachable"  # hub/db.py retry_on_disconnect's warning


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


def _items(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count(Item.id))) or 0)


def _settled(database: Database) -> bool:
    with database.session() as session:
        return crawl_settled(session)


@pytest.mark.timeout(600)  # real processes on a shared machine: longer than the suite's 300 s
@pytest.mark.postgres
def test_worker_rides_out_two_restarts_mid_ingest(pg: PrivateServer, tmp_path: Path) -> None:
    database = _store(pg, "ingest")
    network = make_sample_network(districts=3, branches=8, faults=False)
    index_path = tmp_path / "search-index"
    sections = base_sections(database.url, index_path, batch=4, per_host_cap=4, lease_s=300)
    config = write_config(tmp_path / "xinlian.toml", sections)
    worker = worker_process(config, tmp_path / "worker.log")
    try:
        with running_network(network) as running:
            registry = write_registry(tmp_path / "registry.yaml", network, running.base_url)
            with database.session() as session:
                import_registry(session, registry)
                total_sources = session.scalar(select(func.count(Source.id)))
            worker.start()
            # Restart while items are being written, twice, at different stages of the ingest.
            wait_until(lambda: _items(database) > 0, 120, "the first items", (worker,))
            pg.restart()
            before = _items(database)
            wait_until(lambda: _items(database) > before, 120, "items after the restart", (worker,))
            pg.restart()
            wait_until(lambda: _settled(database), SETTLE_TIMEOUT_S, "the ingest to finish", (worker,))
            assert worker.alive() and worker.starts == 1  # no manual action: the same process went on
            worker.stop()
            truth = ground_truth(network, running.base_url)
        expected = expected_urls(truth, Settings(demo=True).crawl.list_page_depth)
        with database.session() as session:
            assert store_problems(session, expected, set()) == []
            ids = dict(session.execute(select(Source.url, Source.id)).all())
            latest = dict(
                session.execute(
                    select(CrawlOutcome.source_id, CrawlOutcome.status).order_by(CrawlOutcome.id)
                ).all()
            )
            states = dict(session.execute(select(Item.id, Item.state)).all())
        # Every source ended with the outcome its site deserves (none was dropped as failed or aborted).
        for url, source in truth["sources"].items():
            assert (latest.get(ids[url]) == "failed") == bool(source["failure"]), (url, latest.get(ids[url]))
        assert len(latest) == total_sources
        backend = open_backend(
            Settings(
                demo=True,
                store={"url": database.url},
                search={"backend": "embedded", "embedded_path": str(index_path)},
            )
        )
        try:
            assert indexed_states(backend) == states
        finally:
            backend.close()
        print(f"retried writes logged by the worker: {worker.output().count(UNREACHABLE)}")
    finally:
        worker.stop()
        database.dispose()


@pytest.fixture(scope="module")
def web_store(pg: PrivateServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    database = _store(pg, "web")
    network = make_sample_network(districts=1, branches=2, faults=False, extras=False)
    folder = tmp_path_factory.mktemp("web")
    registry = write_registry(folder / "registry.yaml", network, "http://127.0.0.1:9")
    with database.session() as session:
        import_registry(session, registry)
    database.dispose()
    yield Settings(
        demo=True,
        store={"url": database.url},
        search={"backend": "embedded", "embedded_path": str(folder / "search-index")},
    )


@pytest.mark.postgres
def test_web_requests_recover_after_a_restart(pg: PrivateServer, web_store: Settings) -> None:
    with TestClient(create_app(web_store), raise_server_exceptions=False) as client:
        assert client.get("/units").status_code == 200
        pg.restart()
        # The pool's connections died with the server: pool_pre_ping replaces them at checkout.
        assert client.get("/units").status_code == 200
        assert client.get("/readyz").json()["database"] == "ok"


@pytest.mark.postgres
def test_readyz_says_down_while_the_store_is_stopped(pg: PrivateServer, web_store: Settings) -> None:
    with TestClient(create_app(web_store), raise_server_exceptions=False) as client:
        assert client.get("/units").status_code == 200
        pg.stop()
        try:
            ready = client.get("/readyz")
        finally:
            pg.start()
        assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
        assert client.get("/readyz").status_code == 200


@pytest.mark.postgres
def test_requests_during_a_restart_get_a_clean_503(pg: PrivateServer, web_store: Settings) -> None:
    statuses: list[int] = []
    bodies: list[str] = []
    with TestClient(create_app(web_store), raise_server_exceptions=False) as client:
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                response = client.get("/units")
                statuses.append(response.status_code)
                bodies.append(response.text[:500])

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            pg.stop()
            wait_until(lambda: any(status != 200 for status in statuses), 30, "a request during the outage")
            pg.start()
        finally:
            stop.set()
            thread.join(30)
        assert client.get("/units").status_code == 200
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert not any("Traceback" in body for body in bodies)


@pytest.mark.postgres
def test_disconnects_are_told_from_other_store_errors(pg: PrivateServer, tmp_path: Path) -> None:
    nowhere = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    with pytest.raises(OperationalError) as refused:
        nowhere.connect()
    assert is_disconnect(refused.value)  # nothing listens: the server is down or restarting
    database = Database(pg.url)
    try:
        with database.engine.connect() as victim, database.engine.connect() as admin:
            pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(DBAPIError) as cut:
                victim.execute(text("SELECT 1"))
        assert is_disconnect(cut.value)  # terminated by the server (57P01, as in a fast shutdown)
        with pytest.raises(DBAPIError) as missing, database.session() as session:
            session.execute(text("SELECT * FROM no_such_table"))
        assert not is_disconnect(missing.value)
    finally:
        database.dispose()
    local = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(OperationalError) as sqlite_error, local.connect() as connection:
        connection.execute(text("SELECT * FROM no_such_table"))
    assert not is_disconnect(sqlite_error.value)  # SQLite's OperationalError is no reason to wait

    # retry_on_disconnect runs the whole attempt again while the store is away, and gives up in time.
    calls: list[int] = []
    waits: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise refused.value
        return "stored"

    assert retry_on_disconnect(flaky, "test write", sleep=waits.append) == "stored"
    assert len(calls) == 3 and waits == [0.25, 0.5]

    def down() -> str:
        raise refused.value

    waits.clear()
    with pytest.raises(OperationalError):
        retry_on_disconnect(down, "test write", give_up_after_s=1.5, sleep=waits.append)
    assert waits == [0.25, 0.5, 1.0]


def _source_named(settings: Settings, name: str) -> list[tuple[str, bool]]:
    database = Database(settings.store.url)
    try:
        with database.session() as session:
            rows = session.execute(select(Source.url, Source.enabled).where(Source.name == name))
            return [(url, enabled) for url, enabled in rows]
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def admin_token(web_store: Settings) -> str:
    database = Database(web_store.store.url)
    try:
        user = add_user(database, "restart-admin", Role.ADMIN)
        with database.session() as session:
            return create_token(session, user).secret
    finally:
        database.dispose()


@pytest.mark.postgres
def test_staff_writes_land_once_across_a_restart(
    pg: PrivateServer, web_store: Settings, admin_token: str
) -> None:
    """A write right after a restart lands (dead pool connections are replaced); a write while the store
    is down is refused whole with 503 + Retry-After and stores nothing; the client's retry lands once."""
    new = {
        "unit": "city",
        "name": "重启后新增",
        "kind": "html",
        "url": "http://127.0.0.1:9/sites/after/list.html",
    }
    with TestClient(create_app(web_store), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        assert client.get("/api/v1/sources").status_code == 200
        pg.restart()
        created = client.post("/api/v1/sources", json=new)
        assert created.status_code == 201, created.text
        source_id = created.json()["id"]
        assert _source_named(web_store, "重启后新增") == [(new["url"], True)]

        retried = {**new, "name": "停机时新增", "url": "http://127.0.0.1:9/sites/down/list.html"}
        pg.stop()
        try:
            refused_create = client.post("/api/v1/sources", json=retried)
            refused_patch = client.patch(f"/api/v1/sources/{source_id}", json={"enabled": False})
        finally:
            pg.start()
        for refused in (refused_create, refused_patch):
            assert refused.status_code == 503, refused.text
            assert refused.json() == {"detail": "the store is temporarily unavailable"}
            assert refused.headers.get("Retry-After")
        # Nothing of the refused writes reached the store.
        assert _source_named(web_store, "停机时新增") == []
        assert _source_named(web_store, "重启后新增") == [(new["url"], True)]
        # The client retries as told: each write lands exactly once.
        assert client.post("/api/v1/sources", json=retried).status_code == 201
        assert client.patch(f"/api/v1/sources/{source_id}", json={"enabled": False}).status_code == 200
        assert client.post("/api/v1/sources", json=retried).status_code == 422  # the same URL twice: refused
    assert _source_named(web_store, "停机时新增") == [(retried["url"], True)]
    assert _source_named(web_store, "重启后新增") == [(new["url"], False)]
