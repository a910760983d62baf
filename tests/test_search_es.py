"""Elasticsearch-only behaviour on osmem: versioned index behind aliases and a template, strict mapping,
IK fallback, bulk outcomes per item (refusals, 429 retries, a cluster lost half-way), stats and health
on a stopped server, search_after paging, search during a rebuild, the factory."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import elastic_transport._transport
import pytest
from elasticsearch import BadRequestError, Elasticsearch
from pydantic import SecretStr

from hub.db import Database
from hub.settings import Settings
from hub.timeutil import utcnow
from index.backend import SearchBackendError, SearchDocument, SearchQuery, SearchResult
from index.elastic import ElasticBackend
from index.embedded import EmbeddedBackend
from index.es_template import load_template
from index.factory import one_attempt, open_backend
from index.outbox import drain_outbox, index_status
from tests.fixtures.search import PlainJsonNode, closed_port, make_document, osmem_client
from tests.fixtures.web import seed_portal

pytestmark = pytest.mark.elasticsearch

START = datetime(2024, 1, 1, tzinfo=UTC)


def ids(result: SearchResult) -> list[int]:
    return [hit.item_id for hit in result.hits]


# -- Versions, aliases, template, mapping --------------------------------------------------------------


def test_index_version_sits_behind_read_and_write_aliases(es_backend: ElasticBackend) -> None:
    aliases = es_backend.client.indices.get_alias(name="test-items,test-items-write").body
    assert aliases == {
        "test-items-v1": {"aliases": {"test-items": {}, "test-items-write": {"is_write_index": True}}}
    }
    es_backend.ensure_ready()  # idempotent
    assert list(es_backend.client.indices.get_alias(name="test-items").body) == ["test-items-v1"]


def test_versions_come_from_the_installed_template(es_backend: ElasticBackend) -> None:
    [installed] = es_backend.client.indices.get_index_template(name="test-items").body["index_templates"]
    assert installed["index_template"]["index_patterns"] == ["test-items-v*"]
    mapping = es_backend.client.indices.get_mapping(index="test-items").body["test-items-v1"]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert {"region_path", "collapse_into", "month"} <= set(mapping["properties"])
    assert set(mapping["properties"]["title"]["fields"]) == {"bigram", "keyword"}


def test_rebuild_swaps_aliases_to_a_new_version_and_drops_the_old(es_backend: ElasticBackend) -> None:
    es_backend.upsert([make_document(1, title="旧索引")])
    assert es_backend.rebuild([make_document(2, title="新索引")]) == 1
    aliases = es_backend.client.indices.get_alias(name="test-items,test-items-write").body
    assert list(aliases) == ["test-items-v2"]
    assert not es_backend.client.indices.exists(index="test-items-v1")
    assert ids(es_backend.search(SearchQuery(text="索引"))) == [2]
    assert (
        es_backend.client.indices.get_mapping(index="test-items-v2").body["test-items-v2"]["mappings"][
            "dynamic"
        ]
        == "strict"
    )
    es_backend.rebuild([])
    assert list(es_backend.client.indices.get_alias(name="test-items").body) == ["test-items-v3"]


def test_rebuild_refusing_a_document_keeps_the_old_version(es_backend: ElasticBackend) -> None:
    es_backend.upsert([make_document(1, title="旧索引")])
    with pytest.raises(SearchBackendError, match="unit_ancestors"):
        es_backend.rebuild([make_document(2), make_document(3, unit_ancestors=[2**40])])
    assert list(es_backend.client.indices.get_alias(name="test-items").body) == ["test-items-v1"]
    assert not es_backend.client.indices.exists(index="test-items-v2")
    assert ids(es_backend.search(SearchQuery(text="索引"))) == [1]


def test_searches_keep_answering_during_a_rebuild(es_backend: ElasticBackend) -> None:
    documents = [make_document(n, title=f"重建 期间 {n}") for n in range(1, 301)]
    es_backend.upsert(documents)
    totals: list[int] = []
    errors: list[Exception] = []
    done = threading.Event()

    def search_until_done() -> None:
        while not done.is_set() or len(totals) < 3:
            try:
                totals.append(es_backend.search(SearchQuery(text="重建", limit=1)).total)
            except SearchBackendError as exc:
                errors.append(exc)

    searcher = threading.Thread(target=search_until_done)
    searcher.start()
    try:
        for _ in range(3):
            es_backend.rebuild(documents)
    finally:
        done.set()
        searcher.join()
    assert not errors
    assert set(totals) == {300}
    assert list(es_backend.client.indices.get_alias(name="test-items").body) == ["test-items-v4"]


def test_mapping_is_strict(es_backend: ElasticBackend) -> None:
    with pytest.raises(BadRequestError):
        es_backend.client.index(index="test-items-write", id="1", document={"surprise": 1})


def test_start_up_adds_new_template_fields_to_an_older_live_index(osmem_es_url: str) -> None:
    # An index made before region_path/collapse_into/month existed: strict, so new documents would be
    # refused until a reindex; start-up adds the fields in place instead.
    client = osmem_client(osmem_es_url)
    template = load_template("old", ik=False)
    mappings = json.loads(json.dumps(template.mappings))
    for name in ("region_path", "collapse_into", "month"):
        del mappings["properties"][name]
    client.indices.create(
        index="old-items-v1",
        settings=template.settings,
        mappings=mappings,
        aliases={"old-items": {}, "old-items-write": {"is_write_index": True}},
    )
    backend = ElasticBackend(client, prefix="old")
    backend.ensure_ready()
    backend.upsert([make_document(1, region_code="330102", region_path=["33", "3301", "330102"])])
    assert ids(backend.search(SearchQuery(region="3301"))) == [1]
    backend.close()


def test_builtin_cjk_analyzer_without_ik(es_backend: ElasticBackend) -> None:
    assert not es_backend.has_ik()
    analyzers = es_backend.template().settings["analysis"]["analyzer"]
    assert analyzers["xl_text"] == analyzers["xl_text_search"] == {"type": "cjk"}
    for name in ("title", "title.bigram"):
        tokens = es_backend.client.indices.analyze(index="test-items-v1", field=name, text="党建Ｗｉｆｉ")
        assert [token["token"] for token in tokens.body["tokens"]] == ["党建", "wifi"], name


def test_ik_analyzers_replace_cjk_when_the_cluster_has_them() -> None:
    analyzers = load_template("x", ik=True).settings["analysis"]["analyzer"]
    assert analyzers["xl_text"]["tokenizer"] == "ik_max_word"
    assert analyzers["xl_text_search"]["tokenizer"] == "ik_smart"
    assert analyzers["xl_bigram"]["filter"][-1] == "cjk_bigram"  # the bigram subfield stays built-in


def test_suggest_keeps_long_titles_apart(es_backend: ElasticBackend) -> None:
    # Distinct titles are told apart by title.keyword: a title it ignored would fall in one group.
    titles = ["党费" + "长" * 300, "党费" + "短" * 300, "党费 收缴"]
    es_backend.upsert([make_document(n, title=title) for n, title in enumerate(titles, start=1)])
    assert sorted(s.title for s in es_backend.suggest("党费")) == sorted(titles)


# -- Bulk ------------------------------------------------------------------------------------------------


def test_bulk_reports_a_refused_document_and_writes_the_others(es_backend: ElasticBackend) -> None:
    es_backend.upsert([make_document(4, version=5, title="新版")])
    result = es_backend.bulk(
        [
            make_document(1, title="好 文档"),
            make_document(2, unit_ancestors=[1, 2**40], title="坏 文档"),  # out of an integer's range
            make_document(3, title="好 文档"),
            make_document(4, version=2, title="旧版"),  # stale: skipped, not a failure
        ],
        deletes=[404, 4040],  # unknown: not failures
    )
    assert list(result.failed) == [2] and "unit_ancestors" in result.failed[2]
    assert result.written == 2
    assert sorted(ids(es_backend.search(SearchQuery(text="文档")))) == [1, 3]
    assert ids(es_backend.search(SearchQuery(text="新版"))) == [4]
    with pytest.raises(SearchBackendError, match="1 bulk errors"):
        es_backend.upsert([make_document(5), make_document(6, unit_ancestors=[2**40])])
    assert es_backend.count() == 4  # 5 was written all the same


@dataclass
class FlakyProxy:
    """An HTTP proxy to osmem that answers some bulk requests itself: ``bulk_answer(n)`` for the n-th
    bulk request (0-based) returns "forward", "reject" (every item refused with 429), "unavailable"
    (every item refused with 503), "busy" (the whole request answered 503) or "drop"."""

    target: str
    bulk_answer: Callable[[int], str]
    bulk_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    authorizations: list[str | None] = field(default_factory=list)  # each request's Authorization header

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        self.authorizations.append(handler.headers.get("authorization"))
        body = handler.rfile.read(int(handler.headers.get("content-length") or 0))
        if "/_bulk" in handler.path:
            with self.lock:
                answer = self.bulk_answer(self.bulk_requests)
                self.bulk_requests += 1
            if answer == "drop":
                handler.close_connection = True
                return
            if answer in ("reject", "unavailable"):
                self._reply(handler, 200, _rejected_bulk(body, 429 if answer == "reject" else 503))
                return
            if answer == "busy":
                self._reply(handler, 503, json.dumps({"error": "unavailable", "status": 503}).encode())
                return
        target = urlsplit(self.target)
        connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
        headers = {"content-type": "application/json"}
        connection.request(handler.command, handler.path, body or None, headers)
        response = connection.getresponse()
        self._reply(handler, response.status, response.read())
        connection.close()

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, payload: bytes) -> None:
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


def _rejected_bulk(body: bytes, status: int = 429) -> bytes:
    """A bulk response refusing every action of ``body`` with ``status``: 429 as a busy cluster does,
    503 as a shard that is not available does."""
    items = []
    for line in body.decode().splitlines():
        action = json.loads(line) if line.strip() else None
        if isinstance(action, dict) and len(action) == 1 and next(iter(action)) in ("index", "delete"):
            op, meta = next(iter(action.items()))
            error = {"type": "es_rejected_execution_exception", "reason": "queue full"}
            items.append({op: {"_id": meta["_id"], "status": status, "error": error}})
    return json.dumps({"took": 1, "errors": True, "items": items}).encode()


@pytest.fixture
def flaky(osmem_es_url: str) -> Iterator[Callable[[Callable[[int], str]], tuple[FlakyProxy, ElasticBackend]]]:
    servers: list[ThreadingHTTPServer] = []
    backends: list[ElasticBackend] = []

    def start(bulk_answer: Callable[[int], str]) -> tuple[FlakyProxy, ElasticBackend]:
        proxy, url = serve_proxy(osmem_es_url, bulk_answer, servers)
        client = Elasticsearch(url, node_class=PlainJsonNode, max_retries=1)
        backend = ElasticBackend(client, prefix="test", chunk_size=2, max_retries=2, initial_backoff=0.01)
        backends.append(backend)
        return proxy, backend

    yield start
    for backend in backends:
        backend.close()
    for server in servers:
        server.shutdown()
        server.server_close()


def serve_proxy(
    target: str, bulk_answer: Callable[[int], str], servers: list[ThreadingHTTPServer]
) -> tuple[FlakyProxy, str]:
    """A FlakyProxy to ``target`` on a loopback port (its server added to ``servers``) and its URL."""
    proxy = FlakyProxy(target, bulk_answer)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            proxy.answer(self)

        do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output to the test

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    return proxy, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({"es_api_key": "k3y-id:s3cret"}, "ApiKey k3y-id:s3cret"),
        (
            {"es_username": "xinlian", "es_password": "pa55:word"},
            "Basic " + base64.b64encode(b"xinlian:pa55:word").decode(),
        ),
    ],
)
def test_configured_credentials_go_out_with_every_request(
    settings: Settings, osmem_es_url: str, credentials: dict[str, str], expected: str
) -> None:
    """The settings' API key or user and password reach the cluster on every request of the backend
    open_backend builds (start-up, writes, searches), not only in the client's constructor."""
    servers: list[ThreadingHTTPServer] = []
    proxy, url = serve_proxy(osmem_es_url, lambda n: "forward", servers)
    update: dict[str, object] = {"backend": url}
    update.update(
        {name: SecretStr(value) if name != "es_username" else value for name, value in credentials.items()}
    )
    es_settings = settings.model_copy(update={"search": settings.search.model_copy(update=update)})
    backend = open_backend(es_settings, node_class=PlainJsonNode)
    try:
        backend.bulk([make_document(1, title="凭据 通知")], deletes=[])
        backend.search(SearchQuery(text="凭据"))
    finally:
        backend.close()
        for server in servers:
            server.shutdown()
            server.server_close()
    assert len(proxy.authorizations) >= 3
    assert set(proxy.authorizations) == {expected}


def test_bulk_retries_items_refused_with_429(flaky: Callable[..., tuple[FlakyProxy, ElasticBackend]]) -> None:
    proxy, backend = flaky(lambda n: "reject" if n == 0 else "forward")
    result = backend.bulk([make_document(n, title="重试 文档") for n in (1, 2, 3)], [])
    assert result.failed == {} and result.written == 3
    assert backend.count() == 3
    assert proxy.bulk_requests == 3  # chunks of two: the first refused once, then sent again


def test_bulk_keeps_items_still_refused_after_the_retries(
    flaky: Callable[..., tuple[FlakyProxy, ElasticBackend]],
) -> None:
    _, backend = flaky(lambda n: "reject" if n < 3 else "forward")  # the first chunk, three times
    result = backend.bulk([make_document(n) for n in (1, 2, 3)], [])
    assert set(result.failed) == {1, 2} and all(" 429 " in f" {r}" for r in result.failed.values())
    assert result.written == 1 and backend.count() == 1


def test_bulk_losing_the_cluster_half_way_reports_the_rest(
    flaky: Callable[..., tuple[FlakyProxy, ElasticBackend]],
) -> None:
    _, backend = flaky(lambda n: "forward" if n == 0 else "drop")
    result = backend.bulk([make_document(n) for n in (1, 2, 3, 4, 5)], deletes=[9])
    assert result.written == 2
    assert set(result.failed) == {3, 4, 5, 9}
    assert "unreachable" in result.failed[5]


def test_bulk_on_an_unreachable_cluster_raises(
    flaky: Callable[..., tuple[FlakyProxy, ElasticBackend]],
) -> None:
    _, backend = flaky(lambda n: "drop")
    backend.ensure_ready()
    with pytest.raises(SearchBackendError):
        backend.bulk([make_document(1)], [])


@pytest.mark.parametrize("answer", ["unavailable", "busy"])
def test_bulk_503_keeps_the_rows_in_the_outbox_until_the_next_drain(
    flaky: Callable[..., tuple[FlakyProxy, ElasticBackend]], database: Database, answer: str
) -> None:
    """Per-item 503s (and a bulk request answered 503 as a whole, after the client's retry) are not
    retried by the bulk helper: the outbox keeps those rows, with its back-off, and the next drain
    after it lands them."""
    cluster = {"up": False}
    proxy, backend = flaky(lambda n: "forward" if cluster["up"] else answer)
    backend.ensure_ready()
    portal = seed_portal(database, backend)  # ingests four items, then drains: every bulk refused
    status = index_status(database)
    rows = status.pending  # an ingest and an approval each write one
    assert rows >= 4 and status.failing == rows and " 503 " in f" {status.latest_failures[0].error}"
    assert proxy.bulk_requests > 0 and backend.count() == 0

    cluster["up"] = True
    stats = drain_outbox(database, backend, now=utcnow() + timedelta(hours=2))
    assert (stats.applied, stats.failed, stats.remaining) == (rows, 0, 0)
    assert backend.count() == 4
    assert ids(backend.search(SearchQuery(text="党建"))) == [portal.party_item]


# -- Stopped server ----------------------------------------------------------------------------------------


def test_stats_and_health_on_a_stopped_server() -> None:
    client = Elasticsearch(f"http://127.0.0.1:{closed_port()}", request_timeout=2, max_retries=0)
    backend = ElasticBackend(client, prefix="down")
    health = backend.health()
    assert not health.ok and "unreachable" in health.detail
    with pytest.raises(SearchBackendError):
        backend.stats()
    with pytest.raises(SearchBackendError):
        backend.bulk([make_document(1)], [])
    backend.close()


def test_stats_name_the_version_and_its_size(es_backend: ElasticBackend) -> None:
    es_backend.upsert([make_document(1), make_document(2, state="pending")])
    stats = es_backend.stats()
    assert (stats.backend, stats.documents, stats.location) == ("elasticsearch", 2, "test-items-v1")
    assert stats.by_state == {"approved": 1, "pending": 1}
    assert stats.size_bytes is not None and stats.size_bytes > 0
    health = es_backend.health()
    assert health.ok and "test-items-v1" in health.detail


# -- search_after ------------------------------------------------------------------------------------------


def _paging_corpus() -> list[SearchDocument]:
    """Documents sharing dates (the item id decides) but not scores: 分页 n times among 60 words."""
    documents = []
    for n in range(1, 58):
        words = " ".join(["分页"] * n + ["其他"] * (60 - n))
        documents.append(
            make_document(
                n,
                title="分页 测试",
                text=f"{words} 正文",
                published_at=START + timedelta(days=(n * 37) % 900 // 3, hours=n % 2),
                state="approved" if n % 7 else "pending",
            )
        )
    return documents


def _walk(backend: ElasticBackend, query: SearchQuery, pages: int = 100) -> list[int]:
    found: list[int] = []
    for _ in range(pages):  # a cursor that fails to move on would loop for ever
        result = backend.search(query)
        found += ids(result)
        if result.next_cursor is None:
            return found
        query.cursor = result.next_cursor
    raise AssertionError(f"no last page after {pages} pages: {found}")


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"states": None},
        {"text": "分页", "sort": "date"},
        {"text": "分页"},
        {"text": "分页 OR 正文", "recency_boost": True},
    ],
    ids=["browse", "every-state", "words-by-date", "relevance", "boosted"],
)
def test_search_after_walks_every_page_to_the_full_order(
    osmem_es_url: str, options: dict[str, object]
) -> None:
    # The clock moves on a month at every search: a boosted walk must keep its first page's instant
    # (the corpus spans 300 days around it, so the boost reorders hits as the clock moves).
    ticks = [0]

    def clock() -> datetime:
        ticks[0] += 1
        return START + timedelta(days=150 + 30 * ticks[0])

    backend = ElasticBackend(osmem_client(osmem_es_url), prefix="page", clock=clock)
    backend.upsert(_paging_corpus())
    for limit in (1, 4, 10):
        ticks[0] = 0
        full = backend.search(SearchQuery(limit=100, **options))  # type: ignore[arg-type]
        assert full.next_cursor is None and len(full.hits) == full.total
        ticks[0] = 0
        walked = _walk(backend, SearchQuery(limit=limit, **options))  # type: ignore[arg-type]
        assert walked == ids(full), limit
    backend.close()


@pytest.mark.parametrize("copies", [10, 40])
def test_relevance_cursor_through_a_run_of_equal_scores(es_backend: ElasticBackend, copies: int) -> None:
    # Copies of one notice (staff search: reposts not collapsed) score exactly alike; the item id orders
    # them. Two other documents score differently, on either side or not.
    copy = {"title": "同分 通知", "text": "同分 正文", "published_at": START}
    es_backend.upsert(
        [make_document(n, **copy) for n in range(1, copies + 1)]
        + [make_document(100, title="同分 同分", text="同分 同分", published_at=START)]
        + [make_document(101, title="通知", text="同分 其他 正文 内容", published_at=START)]
    )
    query = SearchQuery(text="同分", states=None, collapse_reposts=False)
    full = ids(es_backend.search(SearchQuery(**{**asdict(query), "limit": 100})))
    start = full.index(copies)
    assert full[start : start + copies] == list(range(copies, 0, -1)) and len(full) == copies + 2
    query.limit = 3
    assert _walk(es_backend, query) == full


# -- Factory -----------------------------------------------------------------------------------------------


def test_open_backend_from_settings(osmem_es_url: str, settings: Settings) -> None:
    es_settings = settings.model_copy(
        update={"search": settings.search.model_copy(update={"backend": osmem_es_url, "index_prefix": "cfg"})}
    )
    backend = open_backend(es_settings, node_class=PlainJsonNode)
    assert isinstance(backend, ElasticBackend)
    backend.upsert([make_document(5, title="配置 后端")])
    assert backend.search(SearchQuery(text="配置")).total == 1
    assert backend.client.indices.exists_alias(name="cfg-items")
    backend.close()

    embedded = open_backend(settings)
    assert isinstance(embedded, EmbeddedBackend) and embedded.count() == 0
    embedded.close()


def test_unreachable_cluster_is_a_backend_error(settings: Settings) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    search = settings.search.model_copy(update={"backend": url, "es_retry_backoff_s": 0.0})  # no pauses
    backend = open_backend(settings.model_copy(update={"search": search}))
    with pytest.raises(SearchBackendError):
        backend.upsert([make_document(1)])
    backend.close()


def test_client_pauses_between_retries_and_the_catch_up_view_does_not(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection refused is retried three times after jittered, doubling pauses from the settings
    (recorded, not slept); the moderation catch-up's view of the same backend tries once."""
    pauses: list[float] = []
    monkeypatch.setattr(elastic_transport._transport.time, "sleep", pauses.append)
    search = settings.search.model_copy(
        update={
            "backend": f"http://127.0.0.1:{closed_port()}",
            "es_retry_backoff_s": 0.25,
            "es_retry_backoff_max_s": 2.0,
        }
    )
    es_settings = settings.model_copy(update={"search": search})
    backend = open_backend(es_settings)
    assert isinstance(backend, ElasticBackend)
    with pytest.raises(SearchBackendError):
        backend.ensure_ready()
    # Equal jitter: attempt n waits between half and all of min(cap, base * 2**n) / 2.
    assert len(pauses) == 3
    for attempt, pause in enumerate(pauses):
        ceiling = min(2.0, 0.25 * 2**attempt) / 2
        assert ceiling / 2 <= pause <= ceiling

    pauses.clear()
    quick = one_attempt(backend, es_settings)
    assert isinstance(quick, ElasticBackend) and quick.client.transport is backend.client.transport
    with pytest.raises(SearchBackendError):
        quick.bulk([make_document(1)], [])
    assert pauses == []  # one attempt, no retry
    backend.close()
    embedded = open_backend(settings)
    assert one_attempt(embedded, settings) is embedded
    embedded.close()


def test_unknown_backend_is_refused(settings: Settings) -> None:
    bad = settings.model_copy(update={"search": settings.search.model_copy(update={"backend": "solr"})})
    with pytest.raises(ValueError, match="embedded"):
        open_backend(bad)
