"""Our WebSub hub, against a real subscriber on loopback: subscription with verification of intent,
leases, signed deliveries on approval and withdrawal to every affected topic, retries with backoff that
survive a restart, and the private-address guard on callbacks. The hub job is driven directly with an
injected clock: no sleeps."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import feedparser
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.feeds.hubjob import run_hub
from api.feeds.spec import FeedSpec, parse_topic
from api.feeds.topics import belongs
from hub.db import Database
from hub.models import HubDelivery, HubIntent, HubPublish, HubSubscription
from hub.settings import Settings
from hub.timeutil import utcnow
from hub.websubhub import publish_event
from index.document import documents_for
from index.outbox import drain_outbox
from moderation.service import approve, withdraw
from tests.fixtures.web import REVIEWER, PortalData, seed_portal
from tests.minisite import QuietHandler

BASE = "http://127.0.0.1:8000"
SECRET = "s3cret-of-the-subscriber"


@dataclass
class Callback:
    """What one callback path does: how it answers verifications and deliveries (a queue of statuses)."""

    verify: str = "echo"  # echo | wrong | 404 | 500
    statuses: list[int] = field(default_factory=list)  # next delivery answers; 204 once empty


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class Subscriber:
    """A subscriber's HTTP server on 127.0.0.1 (its own thread), recording every request."""

    def __init__(self) -> None:
        self.callbacks: dict[str, Callback] = {}
        self.received: list[Received] = []
        subscriber = self

        class Handler(QuietHandler):
            def _record(self, body: bytes) -> tuple[Callback, Received]:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                seen = Received(
                    self.command, parts.path, query, {k.lower(): v for k, v in self.headers.items()}, body
                )
                subscriber.received.append(seen)
                return subscriber.callbacks.setdefault(parts.path, Callback()), seen

            def _answer(self, status: int, body: bytes = b"") -> None:
                self.send_body(body, status=status)

            def do_GET(self) -> None:
                callback, seen = self._record(b"")
                if callback.verify == "echo":
                    self._answer(200, seen.query.get("hub.challenge", "").encode())
                elif callback.verify == "wrong":
                    self._answer(200, b"not the challenge")
                else:
                    self._answer(int(callback.verify))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                callback, _ = self._record(self.rfile.read(length))
                self._answer(callback.statuses.pop(0) if callback.statuses else 204)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def posts(self, path: str) -> list[Received]:
        return [r for r in self.received if r.method == "POST" and r.path == path]

    def gets(self, path: str) -> list[Received]:
        return [r for r in self.received if r.method == "GET" and r.path == path]


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    server = Subscriber()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with the loopback subscriber allow-listed (as an operator would for a LAN)."""
    hub = settings.websubhub.model_copy(update={"allowed_callback_hosts": ["127.0.0.1"]})
    return settings.model_copy(update={"websubhub": hub})


@pytest.fixture
def data(app: FastAPI, database: Database) -> PortalData:
    return seed_portal(database, app.state.backend)


def _subscribe(client: TestClient, topic: str, callback: str, mode: str = "subscribe", **extra: str) -> int:
    form = {"hub.mode": mode, "hub.topic": topic, "hub.callback": callback, **extra}
    return client.post("/websub/hub", data=form).status_code


def _hub(app: FastAPI, settings: Settings, database: Database, now: datetime) -> str:
    return str(run_hub(settings, database, app.state.backend, now=now))


def _count(database: Database, model: type) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_subscription_is_verified_by_the_worker_then_active_for_its_lease(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    database: Database,
    data: PortalData,
    subscriber: Subscriber,
) -> None:
    callback = subscriber.url("/cb/a?list=7")  # callbacks may carry their own query
    topic = f"{BASE}/units/east/feed.atom?subtree=1"
    assert _subscribe(client, topic, callback, **{"hub.lease_seconds": "7200", "hub.secret": SECRET}) == 202
    assert subscriber.received == [] and _count(database, HubSubscription) == 0  # nothing until verified
    now = utcnow()
    assert _hub(app, settings, database, now).startswith("verified 1,")
    [check] = subscriber.gets("/cb/a")
    assert check.query["list"] == "7" and check.query["hub.mode"] == "subscribe"
    assert check.query["hub.topic"] == f"{BASE}/units/east/feed.atom"  # canonical form
    assert check.query["hub.lease_seconds"] == "7200" and len(check.query["hub.challenge"]) >= 32
    with database.session() as session:
        subscription = session.scalars(select(HubSubscription)).one()
        assert subscription.topic == f"{BASE}/units/east/feed.atom"
        assert subscription.expires_at == now + timedelta(seconds=7200)
        assert session.scalar(select(func.count()).select_from(HubIntent)) == 0
    # The lease ends: the subscription goes, and nothing is delivered to it any more.
    _hub(app, settings, database, now + timedelta(seconds=7201))
    assert _count(database, HubSubscription) == 0


def test_a_callback_that_does_not_echo_the_challenge_is_not_subscribed(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    database: Database,
    data: PortalData,
    subscriber: Subscriber,
) -> None:
    subscriber.callbacks["/cb/wrong"] = Callback(verify="wrong")
    subscriber.callbacks["/cb/gone"] = Callback(verify="404")
    for path in ("/cb/wrong", "/cb/gone"):
        assert _subscribe(client, f"{BASE}/feed.rss", subscriber.url(path)) == 202
    assert _hub(app, settings, database, utcnow()).startswith("verified 0, refused 2")
    assert _count(database, HubSubscription) == 0 and _count(database, HubIntent) == 0


def test_an_unreachable_callback_is_verified_again_after_a_backoff(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    database: Database,
    data: PortalData,
    subscriber: Subscriber,
) -> None:
    subscriber.callbacks["/cb/busy"] = Callback(verify="500")
    assert _subscribe(client, f"{BASE}/feed.rss", subscriber.url("/cb/busy")) == 202
    now = utcnow()
    _hub(app, settings, database, now)
    _hub(app, settings, database, now + timedelta(seconds=29))  # within the first backoff: no new try
    assert len(subscriber.gets("/cb/busy")) == 1 and _count(database, HubIntent) == 1
    subscriber.callbacks["/cb/busy"].verify = "echo"
    _hub(app, settings, database, now + timedelta(seconds=31))
    assert len(subscriber.gets("/cb/busy")) == 2 and _count(database, HubSubscription) == 1


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"hub.mode": "follow"}, "hub.mode"),
        ({"hub.topic": "http://evil.example/feed.rss"}, "hub.topic"),
        ({"hub.topic": f"{BASE}/units/nowhere/feed.rss"}, "does not exist"),
        ({"hub.topic": f"{BASE}/search/feed.rss?source={2**31}"}, "hub.topic"),  # no such row id
        ({"hub.topic": f"{BASE}/search/feed.rss?source={10**20}"}, "hub.topic"),
        ({"hub.callback": "http://10.1.2.3/cb"}, "private address"),
        ({"hub.callback": "http://localhost:9/cb"}, "private address"),  # only 127.0.0.1 is allow-listed
        ({"hub.callback": "http://2130706434/cb"}, "private address"),  # 127.0.0.2 in another spelling
        ({"hub.callback": "ftp://127.0.0.1/cb"}, "http(s)"),
        ({"hub.secret": "x" * 200}, "hub.secret"),
        ({"hub.lease_seconds": "soon"}, "hub.lease_seconds"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    client: TestClient, data: PortalData, database: Database, form: dict[str, str], reason: str
) -> None:
    valid = {
        "hub.mode": "subscribe",
        "hub.topic": f"{BASE}/feed.rss",
        "hub.callback": "http://127.0.0.1:9/cb",
    }
    response = client.post("/websub/hub", data={**valid, **form})
    assert response.status_code == 400 and reason in response.json()["detail"]
    assert _count(database, HubIntent) == 0


def test_approval_and_withdrawal_are_delivered_signed_to_every_affected_topic(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    database: Database,
    data: PortalData,
    subscriber: Subscriber,
) -> None:
    topics = {
        "/cb/all": f"{BASE}/feed.json",
        "/cb/east": f"{BASE}/units/east/feed.rss",  # the item's district, subtree
        "/cb/branch": f"{BASE}/units/east-school/feed.atom?subtree=0",  # the item's own unit
        "/cb/search": f"{BASE}/search/feed.rss?q=%E5%85%9A%E5%BB%BA",  # 党建: in the item's title
        "/cb/nosearch": f"{BASE}/search/feed.rss?q=%E5%85%9A%E5%BB%BA+-%E7%AE%80%E6%8A%A5",  # 党建 -简报
        "/cb/city-only": f"{BASE}/units/city/feed.rss?subtree=0",  # not the item's unit
        "/cb/category": f"{BASE}/categories/%E4%BC%9A%E8%AE%AE/feed.rss",  # another category
    }
    for path, topic in topics.items():
        assert _subscribe(client, topic, subscriber.url(path), **{"hub.secret": SECRET}) == 202
    now = utcnow()
    _hub(app, settings, database, now)
    assert _count(database, HubSubscription) == len(topics)

    with database.session() as session:
        approve(session, data.pending_item, REVIEWER)  # 待审核的党建简报, branch east-school
    # The item's index row is not applied yet: search feeds would not show it, so the publish waits.
    assert "publishes 0" in _hub(app, settings, database, now)
    assert not any(r.method == "POST" for r in subscriber.received)
    drain_outbox(database, app.state.backend)
    assert "publishes 1, delivered 4, failed 0" in _hub(app, settings, database, now)
    delivered = {path for path in topics if subscriber.posts(path)}
    assert delivered == {"/cb/all", "/cb/east", "/cb/branch", "/cb/search"}

    post = subscriber.posts("/cb/east")[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
    assert post.headers["x-hub-signature"] == expected
    assert post.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert f'<{BASE}/units/east/feed.rss>; rel="self"' in post.headers["link"]
    assert f'<{BASE}/websub/hub>; rel="hub"' in post.headers["link"]
    feed = feedparser.parse(post.body)
    assert not feed.bozo and "待审核的党建简报" in [e.title for e in feed.entries]
    assert subscriber.posts("/cb/all")[0].headers["content-type"].startswith("application/feed+json")
    assert _count(database, HubDelivery) == 0 and _count(database, HubPublish) == 0

    with database.session() as session:
        withdraw(session, data.pending_item, REVIEWER, "撤回")
    drain_outbox(database, app.state.backend)
    assert "delivered 4" in _hub(app, settings, database, now)
    second = subscriber.posts("/cb/east")[1]
    assert "待审核的党建简报" not in [e.title for e in feedparser.parse(second.body).entries]
    assert len(subscriber.posts("/cb/city-only")) == 0 and len(subscriber.posts("/cb/nosearch")) == 0


def test_failed_deliveries_back_off_and_survive_a_restart(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    database: Database,
    data: PortalData,
    subscriber: Subscriber,
) -> None:
    subscriber.callbacks["/cb/flaky"] = Callback(statuses=[503, 500, 200])
    assert _subscribe(client, f"{BASE}/units/east-school/feed.rss", subscriber.url("/cb/flaky")) == 202
    now = utcnow()
    _hub(app, settings, database, now)
    with database.session() as session:
        approve(session, data.pending_item, REVIEWER)
    drain_outbox(database, app.state.backend)
    assert "delivered 0, failed 1" in _hub(app, settings, database, now)
    with database.session() as session:
        delivery = session.scalars(select(HubDelivery)).one()
        assert (delivery.attempts, delivery.last_status) == (1, 503)
        assert delivery.next_attempt_at == now + timedelta(seconds=30)  # backoff_base_s
    assert "failed 0" in _hub(app, settings, database, now + timedelta(seconds=29))
    assert "failed 1" in _hub(app, settings, database, now + timedelta(seconds=30))
    with database.session() as session:
        assert session.scalars(select(HubDelivery)).one().next_attempt_at == now + timedelta(seconds=90)
    # A new process (the worker restarted) finds the delivery in the store and completes it.
    restarted = Database(settings.store.url)
    try:
        assert "delivered 1" in str(
            run_hub(settings, restarted, app.state.backend, now=now + timedelta(seconds=90))
        )
    finally:
        restarted.dispose()
    assert [r.headers.get("x-hub-signature") for r in subscriber.posts("/cb/flaky")] == [None, None, None]
    assert _count(database, HubDelivery) == 0


def test_a_delivery_is_given_up_after_max_attempts(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    database: Database,
    data: PortalData,
    subscriber: Subscriber,
) -> None:
    subscriber.callbacks["/cb/down"] = Callback(statuses=[500] * 20)
    assert _subscribe(client, f"{BASE}/feed.rss", subscriber.url("/cb/down")) == 202
    now = utcnow()
    _hub(app, settings, database, now)
    with database.session() as session:
        approve(session, data.pending_item, REVIEWER)
    drain_outbox(database, app.state.backend)
    for hours in range(0, 48):
        _hub(app, settings, database, now + timedelta(hours=hours))
    assert len(subscriber.posts("/cb/down")) == settings.websubhub.max_attempts
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(HubDelivery)) == 0
        assert "gave up after 8 attempts" in (session.scalars(select(HubSubscription)).one().last_error or "")


def test_the_guard_is_applied_again_when_delivering(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    database: Database,
    data: PortalData,
    subscriber: Subscriber,
) -> None:
    now = utcnow()
    with database.session() as session:  # e.g. allowed when it subscribed, since removed from the allow-list
        session.add(
            HubSubscription(
                topic=f"{BASE}/feed.rss",
                callback="http://localhost:1/cb",
                lease_seconds=3600,
                expires_at=now + timedelta(hours=1),
            )
        )
    with database.session() as session:
        approve(session, data.pending_item, REVIEWER)
    drain_outbox(database, app.state.backend)
    assert "delivered 0, failed 1" in _hub(app, settings, database, now)
    with database.session() as session:
        assert "private address" in (session.scalars(select(HubDelivery)).one().last_error or "")


def test_unsubscribe_takes_effect_once_verified(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    database: Database,
    data: PortalData,
    subscriber: Subscriber,
) -> None:
    callback = subscriber.url("/cb/u")
    assert _subscribe(client, f"{BASE}/feed.atom", callback) == 202
    now = utcnow()
    _hub(app, settings, database, now)
    assert _subscribe(client, f"{BASE}/feed.atom", callback, mode="unsubscribe") == 202
    assert _count(database, HubSubscription) == 1
    _hub(app, settings, database, utcnow())  # the request came after ``now``
    assert subscriber.gets("/cb/u")[-1].query["hub.mode"] == "unsubscribe"
    assert _count(database, HubSubscription) == 0


def test_publishes_are_queued_only_when_someone_subscribes(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    database: Database,
    data: PortalData,
    subscriber: Subscriber,
) -> None:
    with database.session() as session:
        withdraw(session, data.english_item, REVIEWER, "过期")
    assert _count(database, HubPublish) == 0
    assert _subscribe(client, f"{BASE}/feed.atom", subscriber.url("/cb/p")) == 202
    _hub(app, settings, database, utcnow())
    with database.session() as session:
        withdraw(session, data.party_item, REVIEWER, "过期")
        events = [(p.item_id, p.event) for p in session.scalars(select(HubPublish))]
    assert events == [(data.party_item, "withdrawn")]


def test_which_decisions_publish() -> None:
    assert publish_event("approve", "pending", "approved") == "approved"
    assert publish_event("auto_approve", "pending", "approved") == "approved"
    assert publish_event("approve", "approved", "approved") == "approved"  # an edit went live
    assert publish_event("approve_first", "pending", "pending") is None  # 初审 only
    assert publish_event("reject_revision", "approved", "approved") is None  # the live content stays
    assert publish_event("withdraw", "approved", "withdrawn") == "withdrawn"
    assert publish_event("reject", "pending", "rejected") is None


def test_topic_matching_follows_units_categories_and_search_words(
    app: FastAPI, database: Database, data: PortalData
) -> None:
    with database.session() as session:
        doc = documents_for(session, [data.party_item], "Asia/Shanghai")[data.party_item]
        units = {"city": data.city_id, "east": data.district_id, "east-school": data.branch_id}
    zone = ZoneInfo("Asia/Shanghai")

    def topic(url: str) -> FeedSpec:
        spec = parse_topic(BASE + url, BASE)
        assert spec is not None
        return spec

    matching = [
        "/feed.rss",
        "/units/city/feed.rss",
        "/units/east-school/feed.rss?subtree=0",
        "/search/feed.rss?q=%E5%85%9A%E5%BB%BA%E5%B7%A5%E4%BD%9C",  # 党建工作: a phrase of the title
        "/search/feed.rss?q=%E5%85%9A",  # one character
        "/search/feed.rss?q=nothing+OR+%E6%8E%A8%E8%BF%9B",  # nothing OR 推进
        "/search/feed.rss?unit=east&level=branch&attachments=1&since=2024-05-06&until=2024-05-06",
    ]
    missing = [
        "/units/city/feed.rss?subtree=0",
        "/search/feed.rss?q=%E5%85%9A%E5%BB%BA+-%E6%8E%A8%E8%BF%9B",  # 党建 -推进
        "/search/feed.rss?q=%E5%BB%BA%E5%85%9A",  # 建党: the characters, not the phrase
        "/search/feed.rss?until=2024-05-05",
        "/search/feed.rss?level=city",
        "/categories/%E9%80%9A%E7%9F%A5/feed.rss",
    ]
    assert [url for url in matching if not belongs(topic(url), doc, units, zone)] == []
    assert [url for url in missing if belongs(topic(url), doc, units, zone)] == []
    assert datetime(2024, 5, 6, 1, 30, tzinfo=UTC) == doc.sort_date
