"""An index outage during ingestion and moderation delays index updates and loses none (issue 5).

Elasticsearch: an osmem server on a fixed port is stopped while items are ingested (single and batch,
some auto-approved) and moderated, the drainer fails and keeps every row, the server comes back on
the same port and the next drain leaves the index holding exactly what the database says. Embedded:
another writer holds the index's writer lock (as a rebuild in another process does) for the outage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elastic_transport._node import NodeApiResponse
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient
from osmem_server import OsmemServer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from hub.db import Database
from hub.ingest import ingest
from hub.ingestbatch import ingest_batch
from hub.models import Item, ItemState, OutboxEntry, Role, Source, Unit
from hub.rawitem import RawItem
from hub.settings import Settings
from hub.timeutil import utcnow
from index.backend import SearchBackend, SearchDocument, SearchQuery
from index.document import documents_for
from index.elastic import ElasticBackend
from index.embedded import EmbeddedBackend
from index.embedded_store import IndexStore
from index.factory import open_backend
from index.outbox import drain_outbox, index_status
from moderation.service import transition
from tests.fixtures.search import PlainJsonNode, closed_port, osmem_client
from tests.fixtures.web import STAFF_PASSWORD, add_user, seed_portal
from tests.test_reposts import NOTICE, repost_text

NOW = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
AFTER_BACKOFF = NOW + timedelta(hours=2)
ZONE = "Asia/Shanghai"
CLEAN = "关于开展春季植树活动的通知。各社区请于本周五前报名，活动地点在滨江公园东门广场，第{n}批。"


@dataclass(frozen=True, slots=True)
class Work:
    """What happened while the index was down."""

    rows: int  # outbox rows written
    original: int  # an approved notice with one approved repost


def _tree(session: Session) -> tuple[int, int]:
    """city → district (auto-approve on) → branch; returns (district source, branch source)."""
    city = Unit(slug="city", name="某市", level="city", region_code="310000")
    session.add(city)
    session.flush()
    city.path = f"/{city.id}/"
    district = Unit(slug="d1", name="某区", level="district", parent_id=city.id, auto_approve=True)
    session.add(district)
    session.flush()
    district.path = f"{city.path}{district.id}/"
    branch = Unit(slug="d1-b1", name="某社区", level="branch", parent_id=district.id, auto_approve=False)
    session.add(branch)
    session.flush()
    branch.path = f"{district.path}{branch.id}/"
    sources = [
        Source(unit_id=district.id, name="区通知", kind="feed", url="http://127.0.0.1:8700/d1.xml"),
        Source(unit_id=branch.id, name="社区动态", kind="feed", url="http://127.0.0.1:8700/b1.xml"),
    ]
    session.add_all(sources)
    session.flush()
    return sources[0].id, sources[1].id


def _raw(source_id: int, slug: str, text: str, title: str = "春季植树活动通知") -> RawItem:
    html = "".join(f"<p>{line}</p>" for line in text.splitlines())
    return RawItem(source_id=source_id, url=f"http://127.0.0.1:8700/{slug}.html", title=title, html=html)


def ingest_and_moderate(database: Database) -> Work:
    """Ingest (batch and single; the district's clean items go live by policy) and decide."""
    with database.session() as session:
        district, branch = _tree(session)
        live = ingest_batch(session, [_raw(district, f"d{n}", CLEAN.format(n=n)) for n in range(3)], NOW)
        waiting = ingest_batch(
            session, [_raw(branch, f"b{n}", CLEAN.format(n=n + 10)) for n in range(4)], NOW
        )
        single = ingest(session, _raw(branch, "b-single", CLEAN.format(n=99)), NOW).item_id
        notice = "关于做好2024年防汛工作的通知"
        original = ingest(session, _raw(district, "flood", NOTICE, notice), NOW).item_id
        repost = ingest(session, _raw(branch, "flood-copy", repost_text(0), notice), NOW).item_id
    live_ids = [o.item_id for o in live if o is not None]
    b0, b1, b2, _ = [o.item_id for o in waiting if o is not None]
    with database.session() as session:
        for item_id, action, reason in [
            (b0, "approve", None),
            (b1, "reject", "重复"),
            (b2, "needs_changes", "请补充时间"),
            (live_ids[0], "withdraw", "活动取消"),
            (single, "approve", None),
            (original, "approve", None),  # no-op if the policy approved it already: see below
            (repost, "approve", None),
        ]:
            item = session.get(Item, item_id)
            assert item is not None
            if action == "approve" and item.state == ItemState.APPROVED.value:
                continue
            transition(session, item_id, action, "alice", reason=reason, now=NOW)
    with database.session() as session:
        assert session.get(Item, repost).repost_of_id == original  # type: ignore[union-attr]
        rows = len(session.scalars(select(OutboxEntry.id)).all())
    return Work(rows=rows, original=original)


def assert_index_matches_the_store(database: Database, backend: SearchBackend, work: Work) -> None:
    with database.session() as session:
        states = {item.id: item.state for item in session.scalars(select(Item))}
    everything = backend.search(SearchQuery(states=None, collapse_reposts=False, limit=100))
    assert {hit.item_id: hit.state for hit in everything.hits} == states
    assert backend.stats().by_state == dict(Counter(states.values()))
    assert set(states.values()) == {state.value for state in ItemState}  # every state was indexed
    public = backend.search(SearchQuery(text="防汛"))
    assert [(hit.item_id, hit.repost_count) for hit in public.hits] == [(work.original, 1)]
    approved = backend.search(SearchQuery(limit=100))  # public browse: approved, reposts collapsed
    assert {hit.state for hit in approved.hits} == {"approved"}
    assert index_status(database).pending == 0


def check_outage_then_recovery(
    database: Database, backend: SearchBackend, stop: Callable[[], None], restart: Callable[[], None]
) -> None:
    """Ingest and moderate while the index is down, drain, bring it back, drain again."""
    stop()
    work = ingest_and_moderate(database)
    assert work.rows >= 10
    stats = drain_outbox(database, backend, now=NOW, zone=ZONE)
    assert (stats.applied, stats.failed, stats.remaining) == (0, work.rows, work.rows)
    status = index_status(database, now=NOW)
    assert (status.pending, status.failing) == (work.rows, work.rows)
    assert status.latest_failures and status.latest_failures[0].error
    restart()
    # Not due before the back-off ends; then everything lands.
    assert drain_outbox(database, backend, now=NOW, zone=ZONE).applied == 0
    stats = drain_outbox(database, backend, now=AFTER_BACKOFF, zone=ZONE)
    assert (stats.applied, stats.failed, stats.remaining) == (work.rows, 0, 0)
    assert_index_matches_the_store(database, backend, work)


@pytest.mark.elasticsearch
def test_elasticsearch_stopped_during_ingestion_loses_no_update(database: Database) -> None:
    address = f"127.0.0.1:{closed_port()}"
    servers = [OsmemServer.start(japanese=False, addr=address)]
    client = Elasticsearch(f"http://{address}", node_class=PlainJsonNode, request_timeout=5, max_retries=0)
    backend = ElasticBackend(client, prefix="outage")
    backend.ensure_ready()  # the worker started while the cluster was up

    def restart() -> None:
        servers.append(OsmemServer.start(japanese=False, addr=address))  # the same port again
        # osmem keeps everything in memory: the restarted server has lost the template and the (empty)
        # index that a real cluster would still hold. Put them back as they were; the drainer keeps
        # the backend object it had all along, as a running worker does.
        ElasticBackend(client, prefix="outage").ensure_ready()

    try:
        check_outage_then_recovery(database, backend, servers[0].close, restart)
    finally:
        backend.close()
        for server in servers:
            server.close()


def test_embedded_index_locked_by_another_writer_loses_no_update(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "search"
    backend = EmbeddedBackend(path, lock_timeout_s=0.2)
    backend.ensure_ready()
    holder = IndexStore(path, lock_timeout_s=1.0)  # another process's writer, as a rebuild holds it
    with ExitStack() as outage:

        def stop() -> None:
            outage.enter_context(holder.writing())

        try:
            check_outage_then_recovery(database, backend, stop, outage.close)
        finally:
            backend.close()


class CountingNode(PlainJsonNode):
    """PlainJsonNode counting the HTTP requests it tries (a refused connection counts too)."""

    attempts = 0  # per test: reset by the test, one subclass per test below

    def perform_request(self, *args: Any, **kwargs: Any) -> NodeApiResponse:
        type(self).attempts += 1
        return super().perform_request(*args, **kwargs)


def _es_settings(settings: Settings, address: str) -> Settings:
    search = settings.search.model_copy(
        update={"backend": f"http://{address}", "es_timeout_s": 5.0, "es_retry_backoff_s": 0.0}
    )
    return settings.model_copy(update={"search": search})


@pytest.mark.elasticsearch
def test_decision_with_elasticsearch_down_returns_at_once_and_lands_later(
    settings: Settings, database: Database
) -> None:
    """The first decision of an outage makes one index attempt (not the client's four), the next ones
    none; their changes reach the index when it is back (the worker's drain)."""

    class Node(CountingNode):
        pass

    address = f"127.0.0.1:{closed_port()}"
    es_settings = _es_settings(settings, address)
    servers = [OsmemServer.start(japanese=False, addr=address)]
    backend = open_backend(es_settings, node_class=Node)
    try:
        portal = seed_portal(database, backend)  # indexed while the cluster is up
        add_user(database, "admin", Role.ADMIN)
        auth = ("admin", STAFF_PASSWORD)
        servers[0].close()
        with TestClient(create_app(es_settings, database, backend)) as client:
            Node.attempts = 0
            url = f"/api/v1/moderation/items/{portal.pending_item}/approve"
            assert client.post(url, auth=auth).json()["state"] == "approved"
            assert Node.attempts == 1  # one bulk request, refused, not retried
            Node.attempts = 0
            url = f"/api/v1/moderation/items/{portal.english_item}/withdraw"
            response = client.post(url, json={"reason": "活动取消"}, auth=auth)
            assert response.json()["state"] == "withdrawn"
            assert Node.attempts == 0  # found unreachable a moment ago: skipped
            # The public still gets a clean answer while the index is down.
            assert client.get("/api/v1/search", params={"q": "党建"}).status_code == 503
        assert index_status(database).pending == 2

        servers.append(OsmemServer.start(japanese=False, addr=address))  # the same port again
        # osmem lost everything on restart (a real cluster keeps its index): put back the template and
        # the documents the outage did not touch, as they were.
        ElasticBackend(osmem_client(f"http://{address}"), prefix="xinlian").ensure_ready()
        backend.upsert(_documents(database, [portal.party_item, portal.hostile_item]))
        stats = drain_outbox(database, backend, now=utcnow() + timedelta(hours=2), zone=ZONE)
        assert (stats.applied, stats.remaining) == (2, 0)
        with database.session() as session:
            states = {item.id: item.state for item in session.scalars(select(Item))}
        everything = backend.search(SearchQuery(states=None, collapse_reposts=False, limit=100))
        assert {hit.item_id: hit.state for hit in everything.hits} == states
        assert states[portal.pending_item] == "approved" and states[portal.english_item] == "withdrawn"
        public = backend.search(SearchQuery(text="党建"))
        assert {hit.item_id for hit in public.hits} == {portal.party_item, portal.pending_item}
    finally:
        backend.close()
        for server in servers:
            server.close()


def _documents(database: Database, item_ids: list[int]) -> list[SearchDocument]:
    with database.session() as session:
        found = documents_for(session, item_ids, ZONE)
    return [found[item_id] for item_id in item_ids]


@pytest.mark.elasticsearch
def test_serve_starts_with_elasticsearch_down_and_search_answers_503(
    settings: Settings, database: Database
) -> None:
    es_settings = _es_settings(settings, f"127.0.0.1:{closed_port()}")
    with TestClient(create_app(es_settings, database)) as client:  # the app opens its own backend
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        response = client.get("/api/v1/search", params={"q": "通知"})
        assert response.status_code == 503 and "detail" in response.json()
        assert client.get("/search", params={"q": "通知"}).status_code == 503
