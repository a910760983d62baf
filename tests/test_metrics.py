"""Operations: /metrics (store gauges read at scrape time, request latencies), /readyz, structured logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import select

from api.app import create_app
from hub.apitokens import create_token
from hub.db import Database
from hub.logsetup import configure_logging, make_handler, mask_secrets
from hub.models import CrawlOutcome, CrawlRun, Role, Source
from hub.settings import Settings
from hub.timeutil import utcnow
from hub.users import find_user
from index.outbox import drain_outbox
from moderation.service import approve
from tests.fixtures.web import add_user
from tests.moderation_seed import T0, Queue, seed_queue

LOOPBACK = ("127.0.0.1", 40000)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def local(app: FastAPI) -> Iterator[TestClient]:
    """A client calling from the loopback address, as a Prometheus on the same host would."""
    with TestClient(app, client=LOOPBACK) as client:
        yield client


@pytest.fixture
def queue(database: Database) -> Queue:
    return seed_queue(database)


def add_outcomes(database: Database, *outcomes: tuple[str, str | None]) -> None:
    with database.session() as session:
        source_id = session.scalars(select(Source.id).order_by(Source.id).limit(1)).one()
        for status, kind in outcomes:  # a run each: a source has at most one outcome per run
            run = CrawlRun(trigger="test", started_at=T0)
            session.add(run)
            session.flush()
            session.add(CrawlOutcome(run_id=run.id, source_id=source_id, status=status, error_kind=kind))


def test_metrics_read_queue_outbox_and_crawl_outcomes_from_the_store(
    app: FastAPI, local: TestClient, database: Database, queue: Queue
) -> None:
    drain_outbox(database, app.state.backend)  # the ingested items are indexed
    with database.session() as session:
        approve(session, queue.west_clean, "审核员")  # one outbox row, written now
    app.state.clock = lambda: utcnow() + timedelta(minutes=5)
    add_outcomes(database, ("ok", None), ("ok", None), ("failed", "timeout"))
    first = samples(local.get("/metrics").text)
    assert first[("xinlian_store_up", ())] == 1
    assert first[("xinlian_items", (("state", "pending"),))] == 4
    assert first[("xinlian_items", (("state", "approved"),))] == 1
    assert first[("xinlian_items", (("state", "withdrawn"),))] == 0
    assert first[("xinlian_outbox_pending", ())] == 1
    assert first[("xinlian_outbox_oldest_age_seconds", ())] >= 300
    assert first[("xinlian_crawl_outcomes_total", (("kind", ""), ("status", "ok")))] == 2
    assert first[("xinlian_crawl_outcomes_total", (("kind", "timeout"), ("status", "failed")))] == 1
    assert first[("xinlian_sources", (("last_outcome", "never"),))] == 3

    # Later scrapes add only new rows (no double counting), and another process's app agrees.
    add_outcomes(database, ("failed", "timeout"))
    second = samples(local.get("/metrics").text)
    assert second[("xinlian_crawl_outcomes_total", (("kind", "timeout"), ("status", "failed")))] == 2
    assert second[("xinlian_crawl_outcomes_total", (("kind", ""), ("status", "ok")))] == 2
    with TestClient(create_app(app.state.settings, database, app.state.backend), client=LOOPBACK) as other:
        fresh = samples(other.get("/metrics").text)
    assert fresh[("xinlian_crawl_outcomes_total", (("kind", "timeout"), ("status", "failed")))] == 2


def test_request_latencies_are_labelled_by_route_template_and_status(local: TestClient, queue: Queue) -> None:
    local.get(f"/api/v1/items/{queue.east_hit}")  # pending: 404 to the public
    local.get("/api/v1/items/999999")
    local.get("/no/such/page")
    text = local.get("/metrics").text
    found = samples(text)
    key = (
        "xinlian_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/api/v1/items/{item_id}"), ("status", "404")),
    )
    assert found[key] == 2
    assert "999999" not in text  # raw paths never become labels
    unmatched = (
        "xinlian_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "<unmatched>"), ("status", "404")),
    )
    assert found[unmatched] == 1


def test_metrics_are_for_loopback_or_the_metrics_token(
    settings: Settings, database: Database, app: FastAPI
) -> None:
    with TestClient(app) as remote:
        assert remote.get("/metrics").status_code == 403
    secured = settings.model_copy(
        update={"web": settings.web.model_copy(update={"metrics_token": SecretStr("scrape-secret-123")})}
    )
    with TestClient(create_app(secured, database, app.state.backend), client=LOOPBACK) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-123"})
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")


def test_readyz_reports_store_and_search(
    settings: Settings, app: FastAPI, client: TestClient, database: Database
) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    assert ready.json()["database"] == "ok" and ready.json()["search"] == "ok"
    unreachable = Database("postgresql://nobody@127.0.0.1:1/none")
    try:
        with TestClient(create_app(settings, unreachable, app.state.backend)) as down:
            response = down.get("/readyz")
        assert response.status_code == 503 and response.json()["database"] == "unreachable"
    finally:
        unreachable.dispose()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, as the JSON-lines handler writes it."""
    stream = io.StringIO()
    handler = make_handler("json")
    handler.setStream(stream)  # type: ignore[attr-defined]
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_access_log_is_json_with_request_id_and_no_secrets(
    client: TestClient, database: Database, queue: Queue, json_log: io.StringIO
) -> None:
    add_user(database, "bot", Role.MODERATOR)
    with database.session() as session:
        bot = find_user(session, "bot")
        assert bot is not None
        secret = create_token(session, bot).secret
    response = client.get(
        "/api/v1/moderation/queue",
        headers={"Authorization": f"Bearer {secret}", "X-Request-ID": "proxy-given-id-42"},
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == "proxy-given-id-42"
    anonymous = client.get("/websub/callback/" + "s" * 40)  # a secret in the path
    generated = anonymous.headers["x-request-id"]
    assert len(generated) == 32
    access = [line for line in _lines(json_log) if line["logger"] == "xinlian.access"]
    assert access[0] == access[0] | {
        "request_id": "proxy-given-id-42",
        "method": "GET",
        "route": "/api/v1/moderation/queue",
        "status": 200,
    }
    assert isinstance(access[0]["duration_ms"], float)
    assert access[1]["route"] == "/websub/callback/{token}" and access[1]["request_id"] == generated
    # What the server logged (the test client's own httpx logger names the URL it requested).
    server = [line for line in _lines(json_log) if not str(line["logger"]).startswith("httpx")]
    text = json.dumps(server, ensure_ascii=False)
    assert secret not in text and "s" * 40 not in text, text


def test_records_logged_while_serving_carry_the_request_id(
    settings: Settings, app: FastAPI, json_log: io.StringIO
) -> None:
    unreachable = Database("postgresql://nobody@127.0.0.1:1/none")
    try:
        with TestClient(create_app(settings, unreachable, app.state.backend)) as down:
            request_id = down.get("/readyz").headers["x-request-id"]
    finally:
        unreachable.dispose()
    errors = [line for line in _lines(json_log) if line["message"] == "health check: database unreachable"]
    assert errors and errors[0]["request_id"] == request_id and "exc" in errors[0]


def test_secret_looking_values_are_masked() -> None:
    assert mask_secrets("token xl_abcdefghijklmnopqrstuvwxyz0123 used") == "token xl_*** used"
    assert mask_secrets("Authorization: Bearer abc.def-ghi_123456") == "Authorization: Bearer ***"
    assert mask_secrets("Basic YWxpY2U6c2VjcmV0") == "Basic ***"
    assert mask_secrets("an ordinary message") == "an ordinary message"


def test_configure_logging_replaces_handlers_and_silences_uvicorn_access(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("info", "json")
        logging.getLogger("uvicorn.access").info(
            '127.0.0.1 - "GET /websub/callback/secret-path HTTP/1.1" 200'
        )
        logging.getLogger("xinlian.test").info("hello %s", "xl_" + "a" * 30)
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert [line["message"] for line in lines] == ["hello xl_***"]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("uvicorn.access").setLevel(logging.NOTSET)
