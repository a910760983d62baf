"""Secrets never appear in logs, error pages, recorded errors or command output (issue 8).

Each test sets distinctive secret values (web secret key, metrics token, Elasticsearch password and API
key, a password in the Elasticsearch URL, the bridge access key, the SMTP password, a webhook secret,
a staff password, an API token), drives a failure that touches them, and reads back everything the
failure produced: every log record (pytest's caplog, plus the JSON lines of hub/logsetup.py's
formatter, tracebacks included), the output of child processes (capfd), HTTP bodies and headers,
errors stored in the database, and CLI output. None may contain a secret, in plain or URL-quoted form.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, text
from typer.testing import CliRunner

from api.app import create_app
from cli.main import build_app
from crawlers.runner import crawl
from hub.apitokens import create_token
from hub.db import Database
from hub.ingest import ingest
from hub.logsetup import JsonFormatter, RequestContextFilter, make_handler, secret_values
from hub.models import CrawlOutcome, OutboxEntry, Role, Source
from hub.rawitem import RawItem
from hub.settings import (
    AlertsSettings,
    BridgeSettings,
    SearchSettings,
    Settings,
    WebhookTarget,
    WebSettings,
)
from hub.users import create_user
from index.factory import open_backend
from index.outbox import drain_outbox, index_status
from moderation.service import approve
from tests.fixtures.serve import serve_app
from tests.fixtures.web import REVIEWER, add_unit, add_user
from tests.test_staff_auth import form_token
from tests.workers import xinlian_command

WEB_KEY = "webkey-Zq7xS3CR3T"
METRICS_TOKEN = "metrics-Zq7xS3CR3T"
ES_PASSWORD = "espass-Zq7xS3CR3T"
ES_API_KEY = "esapikey-Zq7xS3CR3T"
ES_URL_PASSWORD = "esurlpass-Zq7xS3CR3T"
BRIDGE_KEY = "bridge/key+Zq7x S3CR3T"  # characters that URL-quoting changes
SMTP_PASSWORD = "smtppass-Zq7xS3CR3T"
HOOK_SECRET = "hooksecret-Zq7xS3CR3T"
STAFF_SECRET = "staffpass-Zq7xS3CR3T"
SECRETS = (WEB_KEY, METRICS_TOKEN, ES_PASSWORD, ES_API_KEY, ES_URL_PASSWORD, BRIDGE_KEY, SMTP_PASSWORD,
           HOOK_SECRET, STAFF_SECRET)  # fmt: skip
CLOSED_PORT = 9  # discard: nothing listens on loopback here
HOOK_URL = f"http://127.0.0.1:{CLOSED_PORT}/hook"


def assert_hidden(*outputs: str, extra: tuple[str, ...] = ()) -> None:
    """No secret, plain or URL-quoted, in any of ``outputs``."""
    for secret in (*SECRETS, *extra):
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            for output in outputs:
                assert form not in output, f"secret {secret!r} leaked: ...{_around(output, form)}..."


def _around(output: str, form: str) -> str:
    at = output.find(form)
    return output[max(0, at - 80) : at + len(form) + 40]


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every record at DEBUG and above, as the JSON lines hub/logsetup.py writes (tracebacks too)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def secret_settings(settings: Settings) -> Settings:
    """The test settings with every secret set to a distinctive value."""
    return settings.model_copy(
        update={
            "web": WebSettings(secret_key=SecretStr(WEB_KEY), metrics_token=SecretStr(METRICS_TOKEN)),
            "alerts": AlertsSettings(
                smtp_host="127.0.0.1",
                smtp_port=CLOSED_PORT,
                smtp_user="ops",
                smtp_password=SecretStr(SMTP_PASSWORD),
                webhooks={"ops": WebhookTarget(url=HOOK_URL, secret=SecretStr(HOOK_SECRET))},
            ),
        }
    )


def _approved_item(database: Database) -> int:
    with database.session() as session:
        unit = add_unit(session, "city", "示例市委", "city")
        source = Source(unit_id=unit.id, name="s", kind="feed", url="http://127.0.0.1:8700/s/feed.xml")
        session.add(source)
        session.flush()
        raw = RawItem(
            source_id=source.id, url="http://127.0.0.1:8700/n/1.html", title="通知", html="<p>正文</p>"
        )
        item_id = ingest(session, raw).item_id
        assert item_id is not None
        approve(session, item_id, REVIEWER)
        return item_id


@pytest.mark.parametrize("auth", ["password", "api_key"])
def test_elasticsearch_unreachable_during_drain(
    secret_settings: Settings,
    database: Database,
    caplog: pytest.LogCaptureFixture,
    json_log: io.StringIO,
    auth: str,
) -> None:
    """The outbox drain against a cluster that refuses connections: the failure is logged and kept on
    the outbox row, and neither the logs, the row, `xinlian index status` nor the search health show
    the password or API key (nor a password written into the cluster's URL)."""
    search = SearchSettings(
        backend=f"http://elastic:{ES_URL_PASSWORD}@127.0.0.1:{CLOSED_PORT}",
        es_username="elastic",
        es_password=SecretStr(ES_PASSWORD),
        es_api_key=SecretStr(ES_API_KEY if auth == "api_key" else ""),
        es_timeout_s=1.0,
    )
    settings = secret_settings.model_copy(update={"search": search})
    caplog.set_level(logging.DEBUG)
    _approved_item(database)
    backend = open_backend(settings)
    try:
        stats = drain_outbox(database, backend)
        health = backend.health()
    finally:
        backend.close()
    assert stats.applied == 0 and stats.remaining >= 1  # nothing lost, nothing written
    with database.session() as session:
        errors = [str(error) for error in session.scalars(select(OutboxEntry.last_error))]
        status = str(index_status(database))
    result = CliRunner().invoke(build_app(), ["index", "status"], env=_env(settings))
    assert_hidden(caplog.text, json_log.getvalue(), *errors, status, str(health), result.output)


def _env(settings: Settings) -> dict[str, str]:
    """The environment a CLI run needs to see ``settings``' store, search and secrets."""
    return {
        "XINLIAN_DEMO": "true",
        "XINLIAN_STORE__URL": settings.store.url,
        "XINLIAN_SEARCH__BACKEND": settings.search.backend,
        "XINLIAN_SEARCH__EMBEDDED_PATH": settings.search.embedded_path,
        "XINLIAN_SEARCH__ES_USERNAME": settings.search.es_username,
        "XINLIAN_SEARCH__ES_PASSWORD": settings.search.es_password.get_secret_value(),
        "XINLIAN_SEARCH__ES_API_KEY": settings.search.es_api_key.get_secret_value(),
        "XINLIAN_SEARCH__ES_TIMEOUT_S": "1",
        "XINLIAN_WEB__SECRET_KEY": WEB_KEY,
        "XINLIAN_WEB__METRICS_TOKEN": METRICS_TOKEN,
        "XINLIAN_BRIDGE__ACCESS_KEY": BRIDGE_KEY,
        "XINLIAN_ALERTS__SMTP_PASSWORD": SMTP_PASSWORD,
        "XINLIAN_ALERTS__WEBHOOKS__OPS__URL": HOOK_URL,
        "XINLIAN_ALERTS__WEBHOOKS__OPS__SECRET": HOOK_SECRET,
    }


def _failing_bridge() -> FastAPI:
    """A bridge that redirects every route (query and key kept) to a place that fails with a 502 whose
    body and headers echo the request URL back, key included, as a misconfigured proxy would."""
    bridge = FastAPI()

    @bridge.get("/{path:path}", response_model=None)
    def fail(request: Request, path: str) -> Response:
        url = str(request.url)
        if not path.startswith("moved/"):
            return RedirectResponse(f"/moved/{path}?{request.url.query}", status_code=302)
        return PlainTextResponse(f"upstream error for {url}", status_code=502, headers={"X-Upstream": url})

    return bridge


@pytest.mark.parametrize(("fast_feeds", "log_level"), [(True, "DEBUG"), (False, "INFO"), (False, "DEBUG")])
def test_bridge_failure_hides_the_access_key(
    secret_settings: Settings,
    database: Database,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    json_log: io.StringIO,
    fast_feeds: bool,
    log_level: str,
) -> None:
    """A Weibo account crawled through a bridge that answers 502 and echoes the URL (with ?key=) back:
    the source's outcome is recorded, and the key is in no log line of this process or of the crawl
    processes, nor in what the outcome records (message, redirect hops), on both fetch paths (fast
    feeds, at DEBUG; Scrapy, at INFO, and at DEBUG where it logs every request URL: the crawl processes
    log through our masking handler, Scrapy installs none of its own)."""
    caplog.set_level(logging.DEBUG)
    with serve_app(_failing_bridge()) as bridge_url:
        settings = secret_settings.model_copy(
            update={
                "log_level": log_level,
                "bridge": BridgeSettings(base_url=bridge_url, access_key=SecretStr(BRIDGE_KEY)),
                "crawl": secret_settings.crawl.model_copy(update={"fast_feeds": fast_feeds}),
            }
        )
        with database.session() as session:
            unit = add_unit(session, "city", "示例市委", "city")
            source = Source(
                unit_id=unit.id, name="微博", kind="account", url="bridge://weibo/1234567",
                platform="weibo", account_id="1234567",
            )  # fmt: skip
            session.add(source)
            session.flush()
            source_id = source.id
        summary = crawl(settings, [source_id], trigger="test")
    assert summary.sources_failed == 1
    with database.session() as session:
        outcome = session.scalars(select(CrawlOutcome).where(CrawlOutcome.source_id == source_id)).one()
        stored = session.get(Source, source_id)
        assert stored is not None
        recorded = [
            str({column.key: getattr(outcome, column.key) for column in CrawlOutcome.__table__.columns}),
            str({column.key: getattr(stored, column.key) for column in Source.__table__.columns}),
        ]
    assert outcome.http_status == 502
    out, err = capfd.readouterr()
    if log_level == "DEBUG" and not fast_feeds:
        # Scrapy's debug lines did reach the output, the bridge URLs in them masked.
        assert "DEBUG scrapy." in err and "key=***" in err, err[-2000:]
    assert_hidden(caplog.text, json_log.getvalue(), out, err, *recorded)


def test_server_error_page_and_log_hide_credentials(
    secret_settings: Settings, database: Database, caplog: pytest.LogCaptureFixture, json_log: io.StringIO
) -> None:
    """A staff request (HTTP Basic with the password, or an API token) that hits a broken store: the 500
    page says nothing but that it failed (debug off), and the traceback as the JSON log writes it
    carries no password, token or key."""
    caplog.set_level(logging.DEBUG)
    with database.session() as session:
        user = create_user(session, "secretive", STAFF_SECRET, Role.ADMIN.value)
        token = create_token(session, user, "ci").secret
    backend = open_backend(secret_settings)
    app = create_app(secret_settings, database, backend)
    try:
        with database.session() as session:  # the store breaks under the running app
            # Renamed, not dropped: PostgreSQL refuses to drop a table others reference.
            session.execute(text("ALTER TABLE moderation_events RENAME TO moderation_events_gone"))
            session.execute(text("ALTER TABLE items RENAME TO items_gone"))
        bodies: list[str] = []
        with TestClient(app, raise_server_exceptions=False) as client:
            for headers in ({"Authorization": f"Bearer {token}"}, {}):
                auth = None if headers else ("secretive", STAFF_SECRET)
                response = client.get("/api/v1/moderation/queue", headers=headers, auth=auth)
                assert response.status_code == 500
                assert response.json() == {"detail": "internal server error"}  # the API's error shape
                bodies += [response.text, str(response.headers)]
            page = client.get("/", auth=("secretive", STAFF_SECRET))  # a portal page: translated
            assert page.status_code == 500 and "服务器内部错误" in page.text
            assert "items_gone" not in page.text and "Traceback" not in page.text
            bodies += [page.text, str(page.headers)]
        with TestClient(app, raise_server_exceptions=True) as client:
            with pytest.raises(Exception) as raised:
                client.get("/api/v1/moderation/queue", auth=("secretive", STAFF_SECRET))
            # What uvicorn logs for an exception in the app, through the JSON formatter.
            logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=raised.value)
    finally:
        backend.close()
    assert_hidden(caplog.text, json_log.getvalue(), *bodies, extra=(token,))


def test_failed_sign_ins_hide_the_password(
    secret_settings: Settings, database: Database, caplog: pytest.LogCaptureFixture, json_log: io.StringIO
) -> None:
    """Wrong passwords (the form, HTTP Basic) and a wrong token: the 401 pages and every log line
    leave out what was typed."""
    caplog.set_level(logging.DEBUG)
    add_user(database, "someone", Role.ADMIN)
    backend = open_backend(secret_settings)
    app = create_app(secret_settings, database, backend)
    outputs: list[str] = []
    try:
        with TestClient(app) as client:
            for username in ("someone", STAFF_SECRET):  # a password typed into the name field too
                form = client.get("/staff/login")  # each form has its own token
                response = client.post(
                    "/staff/login",
                    data={
                        "username": username,
                        "password": STAFF_SECRET,
                        "csrf_token": form_token(form.text),
                    },
                    follow_redirects=False,
                )
                assert response.status_code == 401
                outputs += [response.text.replace(f'value="{STAFF_SECRET}"', ""), str(response.headers)]
            basic = client.get("/api/v1/moderation/queue", auth=("someone", STAFF_SECRET))
            bearer = client.get("/api/v1/moderation/queue", headers={"Authorization": "Bearer xl_" + WEB_KEY})
            assert (basic.status_code, bearer.status_code) == (401, 401)
            outputs += [basic.text, str(basic.headers), bearer.text, str(bearer.headers)]
    finally:
        backend.close()
    assert_hidden(caplog.text, json_log.getvalue(), *outputs)


def test_cli_configuration_output_hides_secrets(tmp_path: Path, secret_settings: Settings) -> None:
    """`xinlian config show` (with and without help text) and `xinlian init` print no secret."""
    env = _env(secret_settings)
    runner = CliRunner()
    outputs = []
    for args in (["config", "show"], ["config", "show", "--all"], ["init"]):
        result = runner.invoke(build_app(), args, env=env)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "***" in outputs[0]
    assert_hidden(*outputs)


def test_config_show_masks_webhook_urls(secret_settings: Settings) -> None:
    """A webhook URL is its own credential (a token in the path, or ?key=): `xinlian config show` prints
    the scheme and host only."""
    path_token, query_token = "T0/B0/hookpath-Zq7xS3CR3T", "hookquery-Zq7xS3CR3T"
    env = _env(secret_settings) | {
        "COLUMNS": "500",  # one line per option: a token wrapped over two lines would pass unnoticed
        "XINLIAN_ALERTS__WEBHOOKS__CHAT__URL": f"https://hooks.example.com/services/{path_token}",
        "XINLIAN_ALERTS__WEBHOOKS__CHAT__SECRET": HOOK_SECRET,
        "XINLIAN_ALERTS__WEBHOOKS__WECOM__URL": f"https://qyapi.example.com/cgi-bin/webhook/send?key={query_token}",
        "XINLIAN_ALERTS__WEBHOOKS__WECOM__SECRET": HOOK_SECRET,
    }
    for args in (["config", "show"], ["config", "show", "--all"]):
        result = CliRunner().invoke(build_app(), args, env=env)
        assert result.exit_code == 0, result.output
        assert "https://hooks.example.com/***" in result.output
        assert "https://qyapi.example.com/***" in result.output
        assert_hidden(result.output, extra=(path_token, query_token, "hookpath-Zq7xS3CR3T"))


def test_log_filter_masks_the_configured_secrets(secret_settings: Settings) -> None:
    """secret_values finds every configured secret (SecretStr fields, a password in a URL); the handler
    configure_logging installs masks them, as written or URL-quoted, in messages, arguments and
    tracebacks, in both formats."""
    search = SearchSettings(backend=f"https://elastic:{ES_URL_PASSWORD}@es.example:9200")
    search.es_password, search.es_api_key = SecretStr(ES_PASSWORD), SecretStr(ES_API_KEY)
    settings = secret_settings.model_copy(
        update={"search": search, "bridge": BridgeSettings(access_key=SecretStr(BRIDGE_KEY))}
    )
    values = secret_values(settings)
    assert set(SECRETS) - {STAFF_SECRET} <= set(values)
    for fmt in ("text", "json"):
        stream = io.StringIO()
        handler = make_handler(fmt, values)
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        logger = logging.getLogger(f"tests.secrets.{fmt}")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            logger.warning("fetch %s failed", f"http://bridge/weibo/user/1?key={quote(BRIDGE_KEY, safe='')}")
            logger.warning("login as elastic:%s, token %s", ES_PASSWORD, ES_API_KEY)
            try:
                raise RuntimeError(f"cannot connect with {HOOK_SECRET} / {SMTP_PASSWORD}")
            except RuntimeError:
                logger.exception("delivery failed")
        finally:
            logger.removeHandler(handler)
        output = stream.getvalue()
        assert output.count("***") >= 5 and "RuntimeError" in output
        assert_hidden(output)


def test_log_filter_masks_webhook_url_tokens(secret_settings: Settings) -> None:
    """A webhook URL carries its token in the path or the query: secret_values lists both, so a log
    line naming the URL (a failed delivery, say) keeps the host and loses the token."""
    path_token, query_token = "T0/B0/hookpath-Zq7xS3CR3T", "hookquery-Zq7xS3CR3T"
    hooks = {
        "chat": WebhookTarget(
            url=f"https://hooks.example.com/services/{path_token}", secret=SecretStr(HOOK_SECRET)
        ),
        "wecom": WebhookTarget(
            url=f"https://qyapi.example.com/cgi-bin/webhook/send?key={query_token}",
            secret=SecretStr(HOOK_SECRET),
        ),
    }
    alerts = secret_settings.alerts.model_copy(update={"webhooks": hooks})
    values = secret_values(secret_settings.model_copy(update={"alerts": alerts}))
    stream = io.StringIO()
    handler = make_handler("text", values)
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    logger = logging.getLogger("tests.secrets.webhooks")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for hook in hooks.values():
            logger.warning("webhook delivery to %s failed", hook.url)
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "hooks.example.com" in output and "qyapi.example.com" in output
    assert_hidden(output, extra=(path_token, query_token, "hookpath-Zq7xS3CR3T"))


def test_an_unreachable_store_is_one_clear_line_without_its_password(tmp_path: Path) -> None:
    """The store's password is in store.url: a command that cannot reach the store says so in one line
    on stderr with exit code 3 (no traceback, no password); `config show` masks it."""
    password = "storepass-Zq7xS3CR3T"
    env = {
        **os.environ,
        "XINLIAN_DEMO": "true",
        "XINLIAN_STORE__URL": f"postgresql+psycopg://xinlian:{password}@127.0.0.1:{CLOSED_PORT}/xinlian",
    }
    outputs = []
    for args in (["sources", "list"], ["index", "status"]):
        done = subprocess.run(
            [*xinlian_command(), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 3, done.stderr[-2000:]
        assert "store unreachable" in done.stderr and "Connection refused" in done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        outputs += [done.stdout, done.stderr]
    shown = subprocess.run(
        [*xinlian_command(), "config", "show"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0 and "xinlian:***@" in shown.stdout.replace("\n", "")
    outputs += [shown.stdout, shown.stderr]
    assert_hidden(*outputs, extra=(password,))
