"""Alerts over a real loopback webhook receiver (checking the HMAC) and a local SMTP server (aiosmtpd),
with the clock injected: an alert fires once after the failure threshold, once on recovery and not in
between; the repeat interval holds; a failed delivery is retried and not lost (docs/health.md "Alerts")."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from hub.alerts.deliver import DeliveryStats, deliver_due
from hub.alerts.listener import alert_listeners
from hub.db import Database
from hub.health.sweep import sweep
from hub.models import AlertOutbox, Source
from hub.schedule.hooks import StatusChange, notify, status_hooks
from hub.settings import AlertsSettings, HealthSettings, Settings
from tests.moderation_seed import add_unit
from tests.test_health_status import T0, add_items, add_source, crawled

SECRET = "hook-secret-0123456789"
HOUR = timedelta(hours=1)


@dataclass
class Receiver:
    """A loopback webhook receiver: answers each POST with the next of ``statuses`` (then 200)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of the POSTs that were answered 2xx... and checked against their signature."""
        found = []
        for headers, body in self.posts:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["x-xinlian-signature"], expected)
            found.append(json.loads(body))
        return found


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = state.statuses.pop(0) if state.statuses else 200
            if status < 300:
                state.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/xinlian"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class Mailbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpts, message in self.messages if address in rcpts]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Smtp:
    port: int
    box: Mailbox
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp(free_port(), Mailbox())
    server.start()
    yield server
    server.stop()


def alert_settings(settings: Settings, receiver: Receiver, smtp: Smtp, **alerts: Any) -> Settings:
    config: dict[str, Any] = {
        "webhooks": {"ops": {"url": receiver.url, "secret": SECRET}},
        "email_to": ["ops@example.cn"],
        "contacts": {"east": ["east@example.cn"], "city": []},
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_starttls": False,
        "smtp_from": "xinlian@example.cn",
        "language": "en",
        **alerts,
    }
    failures = config.pop("failures_for_status", 1)
    return settings.model_copy(
        update={
            "alerts": AlertsSettings.model_validate(config),
            "health": HealthSettings(failures_for_status=failures),
        }
    )


FEED_TOKEN = "s3cret-feed-token"


@pytest.fixture
def branch_feed(database: Database) -> int:
    """city → east (district) → east-b1 (branch) with one lively feed, crawled fine at T0."""
    with database.session() as session:
        city = add_unit(session, "city", "city")
        district = add_unit(session, "east", "district", city)
        branch = add_unit(session, "east-b1", "branch", district)
        source = add_source(session, branch, "b1-feed")
        source.url += f"?token={FEED_TOKEN}"  # a feed behind a token: alerts leave the hub, the token not
        add_items(session, source, [1, 3, 6, 9, 12, 20], T0)
        crawled(session, source, T0)
        return source.id


class World:
    """Crawl outcomes, sweeps and deliveries of one source on an injected clock."""

    def __init__(self, database: Database, settings: Settings, source_id: int) -> None:
        self.database, self.settings, self.source_id = database, settings, source_id

    def crawl(self, at: datetime, kind: str | None = None) -> None:
        with self.database.session() as session:
            source = session.get(Source, self.source_id)
            assert source is not None
            if kind is None:  # a working feed publishes now and then: keep the source lively
                add_items(session, source, [(at - T0) / HOUR / 1000], at)
            crawled(session, source, at, kind)

    def sweep(self, at: datetime) -> list[tuple[str | None, str]]:
        with self.database.session() as session:
            summary = sweep(
                session, self.settings.health, self.settings.timezone, at, alert_listeners(self.settings)
            )
        return [(c.from_status, c.to_status) for c in summary.changes if c.subject == "source"]

    def deliver(self, at: datetime) -> DeliveryStats:
        return deliver_due(self.settings.alerts, self.settings.timezone, self.database, at)

    def rows(self) -> list[AlertOutbox]:
        with self.database.session() as session:
            return list(session.scalars(select(AlertOutbox).order_by(AlertOutbox.id)))


def test_an_alert_fires_once_after_the_threshold_once_on_recovery_and_not_in_between(
    database: Database, settings: Settings, receiver: Receiver, smtp: Smtp, branch_feed: int
) -> None:
    world = World(database, alert_settings(settings, receiver, smtp, failures_for_status=3), branch_feed)
    assert world.sweep(T0) == [(None, "active")]  # a first classification alerts nobody
    assert world.rows() == []

    for n in (1, 2):  # below the threshold: still active, nothing queued, nothing sent
        world.crawl(T0 + n * HOUR, "timeout")
        assert world.sweep(T0 + n * HOUR) == []
        assert world.deliver(T0 + n * HOUR).sent == 0

    world.crawl(T0 + 3 * HOUR, "timeout")
    assert world.sweep(T0 + 3 * HOUR) == [("active", "unreachable")]
    stats = world.deliver(T0 + 3 * HOUR)
    assert (stats.sent, stats.failed) == (3, 0)  # the webhook, the operators, the district's contact

    for n in (4, 5, 6):  # failing on: no change, no alert
        world.crawl(T0 + n * HOUR, "timeout")
        assert world.sweep(T0 + n * HOUR) == []
        assert world.deliver(T0 + n * HOUR).sent == 0

    world.crawl(T0 + 7 * HOUR)
    assert world.sweep(T0 + 7 * HOUR) == [("unreachable", "active")]
    assert world.deliver(T0 + 7 * HOUR).sent == 3
    world.crawl(T0 + 8 * HOUR)
    world.sweep(T0 + 8 * HOUR)
    assert world.deliver(T0 + 8 * HOUR).sent == 0

    bodies = receiver.bodies()  # every signature checked
    assert [(b["event"], b["from_status"], b["status"]) for b in bodies] == [
        ("failing", "active", "unreachable"),
        ("recovered", "unreachable", "active"),
    ]
    failing = bodies[0]
    assert failing["source"]["id"] == branch_feed and failing["unit"]["slug"] == "east-b1"
    assert failing["consecutive_failures"] == 3 and failing["last_error_kind"] == "timeout"
    assert failing["dashboard_url"].endswith(f"/staff/health/sources/{branch_feed}")
    assert receiver.posts[0][0]["x-xinlian-event"] == "failing"
    assert receiver.posts[0][0]["x-xinlian-delivery"] == str(failing["delivery_id"])

    for address in ("ops@example.cn", "east@example.cn"):
        subjects = [message["Subject"] for message in smtp.box.to(address)]
        assert subjects == [
            "[Xinlian] Source failing: b1-feed (east-b1单位)",
            "[Xinlian] Source recovered: b1-feed (east-b1单位)",
        ]
    body = smtp.box.to("east@example.cn")[0].get_content()
    assert "last 3 crawls failed: timeout" in body and "Failed crawls in a row: 3" in body
    assert failing["source"]["url"] == "http://127.0.0.1:9/b1-feed.xml?token=***"
    assert FEED_TOKEN not in body and FEED_TOKEN not in str(bodies)
    assert "At: 2024-06-03 15:00" in body  # T0 + 3 h = 07:00 UTC, shown in Asia/Shanghai


def test_the_repeat_interval_holds_per_source_and_event(
    database: Database, settings: Settings, receiver: Receiver, smtp: Smtp, branch_feed: int
) -> None:
    world = World(
        database, alert_settings(settings, receiver, smtp, repeat_s=6 * 3600, email_to=[]), branch_feed
    )
    world.sweep(T0)

    def step(hours: float, kind: str | None) -> int:
        at = T0 + hours * HOUR
        world.crawl(at, kind)
        world.sweep(at)
        return world.deliver(at).sent

    assert step(1, "http_5xx") == 2  # failing: webhook and contact
    assert step(2, None) == 2  # recovered: the first recovery, sent at once
    assert step(3, "http_5xx") == 0  # failing again within 6 h of the last failure alert: held to 7 h
    assert step(4, None) == 0  # ... and back before then: the held alert is dropped, no recovery sent
    assert world.deliver(T0 + 8 * HOUR).sent == 0  # nothing held any more
    assert step(9, "http_5xx") == 2  # 8 h after the first failure alert: sent at once
    assert step(10, None) == 2  # 8 h after the last recovery alert: sent at once
    assert step(11, "http_5xx") == 0  # held until 9 h + 6 h
    assert world.deliver(T0 + 14.9 * HOUR).sent == 0
    assert world.deliver(T0 + 15 * HOUR).sent == 2  # still failing at 15 h: the held alert goes out

    events = [body["event"] for body in receiver.bodies()]
    assert events == ["failing", "recovered", "failing", "recovered", "failing"]
    held = [row for row in world.rows() if row.dropped_at is not None]
    assert {(row.event, row.kind) for row in held} == {("failing", "webhook"), ("failing", "email")}
    assert all(row.sent_at is None for row in held)


def test_a_failed_delivery_is_retried_with_backoff_and_not_lost(
    database: Database, settings: Settings, receiver: Receiver, branch_feed: int
) -> None:
    down = Smtp(free_port(), Mailbox())  # nothing listens on its port yet
    world = World(
        database, alert_settings(settings, receiver, down, backoff_base_s=60, email_to=[]), branch_feed
    )
    world.sweep(T0)
    receiver.statuses = [503, 500]
    at = T0 + HOUR
    world.crawl(at, "http_5xx")
    world.sweep(at)

    first = world.deliver(at)
    assert (first.sent, first.failed) == (0, 2)  # the webhook answered 503, the SMTP port refused
    rows = world.rows()
    assert [(row.attempts, row.next_attempt_at) for row in rows] == [(1, at + timedelta(seconds=60))] * 2
    assert all(row.last_error for row in rows)
    assert world.deliver(at + timedelta(seconds=30)).sent == 0  # not due yet: nothing claimed

    down.start()
    try:
        second = world.deliver(at + timedelta(seconds=60))
        assert (second.sent, second.failed) == (1, 1)  # mail went; the webhook answered 500 again
        assert world.deliver(at + timedelta(seconds=150)).sent == 0  # next try 120 s after the 2nd
        third = world.deliver(at + timedelta(seconds=180))
        assert (third.sent, third.failed) == (1, 0)
    finally:
        down.stop()
    assert [body["event"] for body in receiver.bodies()] == ["failing"]  # delivered once, none lost
    assert len(down.box.to("east@example.cn")) == 1
    assert all(row.sent_at is not None and row.last_error is None for row in world.rows())


def test_an_alert_is_given_up_after_max_attempts_and_kept(
    database: Database, settings: Settings, receiver: Receiver, smtp: Smtp, branch_feed: int
) -> None:
    world = World(
        database,
        alert_settings(settings, receiver, smtp, max_attempts=2, email_to=[], contacts={}),
        branch_feed,
    )
    world.sweep(T0)
    receiver.statuses = [500, 500, 500]
    world.crawl(T0 + HOUR, "dns")
    world.sweep(T0 + HOUR)
    assert world.deliver(T0 + HOUR).failed == 1
    assert world.deliver(T0 + 2 * HOUR).given_up == 1
    (row,) = world.rows()
    assert row.failed_at == T0 + 2 * HOUR and row.attempts == 2 and row.last_error == "HTTP 500"
    assert world.deliver(T0 + 3 * HOUR).sent == 0  # given up: not tried again


def test_a_rolled_back_sweep_leaves_no_alert(
    database: Database, settings: Settings, receiver: Receiver, smtp: Smtp, branch_feed: int
) -> None:
    world = World(database, alert_settings(settings, receiver, smtp), branch_feed)
    world.sweep(T0)
    world.crawl(T0 + HOUR, "timeout")
    with pytest.raises(RuntimeError), database.session() as session:
        sweep(session, world.settings.health, "UTC", T0 + HOUR, alert_listeners(world.settings))
        assert session.scalar(select(AlertOutbox.id)) is not None  # written in the sweep's transaction
        raise RuntimeError("the sweep failed after the listener ran")
    assert world.rows() == []
    assert world.sweep(T0 + HOUR) == [("active", "unreachable")]  # the next sweep sees the change again
    assert len(world.rows()) == 3


def test_a_pause_alerts_once_per_pause_within_the_repeat_interval(
    database: Database, settings: Settings, receiver: Receiver, smtp: Smtp, branch_feed: int
) -> None:
    world = World(
        database, alert_settings(settings, receiver, smtp, repeat_s=6 * 3600, email_to=[]), branch_feed
    )
    hooks = status_hooks(world.settings)  # what the worker, `crawl` and crawl-now give the schedule

    def change(hours: float, state: Literal["paused", "resumed"]) -> int:
        at = T0 + hours * HOUR
        with database.session() as session:
            notify(session, hooks, [StatusChange(branch_feed, state, at, "failing for 3 days: timeout")])
        return world.deliver(at).sent

    assert change(1, "paused") == 2  # the webhook and the district's contact, at once
    assert change(2, "resumed") == 0  # a resumption sends nothing itself
    assert change(3, "paused") == 0  # paused again within 6 h of the last pause alert: held to 7 h
    assert change(4, "resumed") == 0  # ... and resumed before then: the held alert is dropped
    assert world.deliver(T0 + 8 * HOUR).sent == 0
    assert change(9, "paused") == 2  # 8 h after the first pause alert: sent at once
    assert world.deliver(T0 + 20 * HOUR).sent == 0  # once per pause, not again while paused

    bodies = receiver.bodies()
    assert [(b["event"], b["from_status"], b["status"]) for b in bodies] == [
        ("paused", "scheduled", "paused"),
        ("paused", "scheduled", "paused"),
    ]
    assert bodies[0]["source"]["id"] == branch_feed and bodies[0]["reason"] == "failing for 3 days: timeout"
    assert [row.event for row in world.rows() if row.dropped_at is not None] == ["paused", "paused"]
    (first, _) = smtp.box.to("east@example.cn")
    assert first["Subject"] == "[Xinlian] Source paused: b1-feed (east-b1单位)"
    assert "Status: crawled on schedule → crawling paused" in first.get_content()

    # With alerts disabled the pause is still recorded, and nothing is queued.
    quiet = world.settings.model_copy(update={"alerts": AlertsSettings(enabled=False)})
    with database.session() as session:
        notify(session, status_hooks(quiet), [StatusChange(branch_feed, "paused", T0 + 30 * HOUR, "x")])
    assert len(world.rows()) == 6


def test_webhook_secrets_must_be_real_and_may_come_from_a_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.settings import load_settings

    config = tmp_path / "x.toml"
    config.write_text('demo = true\n[alerts.webhooks.ops]\nurl = "https://ops.example.cn/hook"\n', "utf-8")
    with pytest.raises(ValueError, match="secret"):
        load_settings(config)
    secret = tmp_path / "hook-secret"
    secret.write_text(SECRET + "\n", "utf-8")
    monkeypatch.setenv("XINLIAN_ALERTS__WEBHOOKS__OPS__SECRET_FILE", str(secret))
    loaded = load_settings(config)
    assert loaded.alerts.webhooks["ops"].secret.get_secret_value() == SECRET
    assert loaded.masked()["alerts"]["webhooks"]["ops"]["secret"] == "***"
    with pytest.raises(ValueError, match="not an e-mail address"):
        AlertsSettings(email_to=["nobody"])
