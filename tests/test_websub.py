"""WebSub subscriber against the sample hub: discovery, subscribe, verification, signed deliveries, leases."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from crawlers.feeds import parse_feed
from crawlers.runner import crawl
from crawlers.websub import CALLBACK_PATH, advertised_hub, link_header_rels, renew_due
from hub.db import Database
from hub.models import Item, ItemState, Source, WebSubState, WebSubSubscription
from hub.settings import Settings
from hub.timeutil import utcnow
from hub.websub import note_hub, signature_ok
from samplenet.server import RunningNetwork, running_network
from samplenet.websub_hub import HUB_PATH, feed_path
from tests.fixtures.sample import make_sample_network
from tests.fixtures.serve import serve_app
from tests.fixtures.web import add_unit

BASE_INTERVAL_S = 600


@dataclass
class WebSubSetup:
    """A private sample network with its hub, our app served on loopback, one feed source."""

    sample: RunningNetwork
    settings: Settings  # web.base_url points at the served app
    app_url: str
    source_id: int
    slug: str

    @property
    def topic(self) -> str:
        return self.sample.url(feed_path(self.slug))

    def hub(self, method: str, path: str, **params: str) -> httpx.Response:
        return httpx.request(method, self.sample.url(path), params=params, timeout=10)


@pytest.fixture
def websub(settings: Settings, database: Database, app: FastAPI) -> Iterator[WebSubSetup]:
    network = make_sample_network()  # our own: the test publishes into it
    slug = next(site.slug for site in network.sites if site.fault is None and site.template == "rss")
    with running_network(network) as sample, serve_app(app) as app_url:
        with database.session() as session:
            unit = add_unit(session, "city", "市政府", "city")
            source = Source(
                unit_id=unit.id,
                name="市政府 通知",
                kind="feed",
                url=sample.url(feed_path(slug)),
                check_interval_s=BASE_INTERVAL_S,
            )
            session.add(source)
            session.flush()
            source_id = source.id
        served = settings.model_copy(update={"web": settings.web.model_copy(update={"base_url": app_url})})
        yield WebSubSetup(sample, served, app_url, source_id, slug)


def _subscription(database: Database, source_id: int) -> WebSubSubscription:
    with database.session() as session:
        found = session.scalar(select(WebSubSubscription).where(WebSubSubscription.source_id == source_id))
        assert found is not None
        return found


def _item_count(database: Database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Item)) or 0


def test_link_header_rels_and_advertised_hub() -> None:
    rels = link_header_rels(
        ['<https://hub.example/>; rel="hub", </feed.xml>; rel="self alternate"', "<https://other/>; rel=hub"],
        "https://site.example/a/",
    )
    assert rels == {
        "hub": "https://hub.example/",
        "self": "https://site.example/feed.xml",
        "alternate": "https://site.example/feed.xml",
    }
    feed = parse_feed(
        b'<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        b'<title>t</title><atom:link rel="hub" href="https://hub.example/h"/>'
        b"<item><title>x</title><link>https://site.example/1.html</link></item></channel></rss>",
        1,
        "https://site.example/rss.xml",
    )
    assert feed.hub_url == "https://hub.example/h"
    # The header wins over the document; without rel=self the fetched URL is the topic.
    found = advertised_hub(feed, [], "https://site.example/rss.xml")
    assert found is not None
    assert (found.hub_url, found.topic) == ("https://hub.example/h", "https://site.example/rss.xml")
    assert (
        advertised_hub(
            parse_feed(b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', 1, "u"), [], "u"
        )
        is None
    )


def test_signature_check() -> None:
    body = b"<rss/>"
    good = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature_ok("s3cret", body, f"sha256={good}")
    assert not signature_ok("s3cret", body + b" ", f"sha256={good}")
    assert not signature_ok("other", body, f"sha256={good}")
    sha1 = hmac.new(b"s3cret", body, hashlib.sha1).hexdigest()
    assert not signature_ok("s3cret", body, f"sha1={sha1}")  # SHA-1 is refused
    assert not signature_ok("s3cret", body, None)
    assert not signature_ok("s3cret", body, good)


def test_subscribe_verify_and_deliveries(websub: WebSubSetup, database: Database) -> None:
    # A crawl of the feed records the hub it advertises.
    crawl(websub.settings, [websub.source_id], trigger="cli")
    subscription = _subscription(database, websub.source_id)
    assert (subscription.state, subscription.hub_url) == (WebSubState.DISCOVERED, websub.sample.url(HUB_PATH))
    assert subscription.topic == websub.topic
    crawled = _item_count(database)
    assert crawled > 0

    # The worker job sends the request: topic, our callback, the stored secret, the lease.
    assert renew_due(websub.settings, database) == 1
    [request] = websub.hub("GET", "/_control/websub/requests").json()
    callback = websub.app_url + CALLBACK_PATH + subscription.callback_token
    assert request == {
        "mode": "subscribe",
        "topic": websub.topic,
        "callback": callback,
        "secret": subscription.secret,
        "lease_seconds": websub.settings.websub.lease_s,
        "verified": False,
    }
    assert len(subscription.secret) >= 32
    assert _subscription(database, websub.source_id).state == WebSubState.PENDING
    assert renew_due(websub.settings, database) == 0  # requested just now: not asked again

    # Verification of another topic, or of an unknown callback, is not confirmed.
    params = {"hub.mode": "subscribe", "hub.topic": websub.sample.url("/other.xml"), "hub.challenge": "c1"}
    assert httpx.get(callback, params=params).status_code == 404
    params["hub.topic"] = websub.topic
    assert httpx.get(websub.app_url + CALLBACK_PATH + "unknown-token", params=params).status_code == 404
    params["hub.mode"] = "unsubscribe"  # we never ask to unsubscribe: a third party must not
    assert httpx.get(callback, params=params).status_code == 404

    # The hub's verification gets the challenge echoed; the subscription becomes active.
    [verified] = websub.hub("POST", "/_control/websub/verify", topic=websub.topic).json()
    assert verified == {"callback": callback, "status": 200, "verified": True}
    active = _subscription(database, websub.source_id)
    assert active.state == WebSubState.ACTIVE
    assert active.expires_at is not None and active.verified_at is not None
    assert active.expires_at - active.verified_at == timedelta(seconds=websub.settings.websub.lease_s)

    # An active subscription slows polling to the safety-net rate.
    with database.session() as session:
        source = session.get(Source, websub.source_id)
        assert source is not None and source.next_check_at is not None
        assert source.check_interval_s == websub.settings.websub.safety_poll_s > BASE_INTERVAL_S
        assert source.next_check_at >= utcnow() + timedelta(seconds=websub.settings.websub.safety_poll_s - 60)

    # Deliveries with a wrong or no signature are refused and store nothing.
    for signature in ("bad", "none"):
        result = websub.hub("POST", "/_control/websub/publish", slug=websub.slug, signature=signature).json()
        assert [d["status"] for d in result["deliveries"]] == [403]
        assert _item_count(database) == crawled
    # A correctly signed delivery is ingested: the new items wait for review.
    result = websub.hub("POST", "/_control/websub/publish", slug=websub.slug, signature="good").json()
    assert [d["status"] for d in result["deliveries"]] == [200]
    with database.session() as session:
        titles = dict(session.execute(select(Item.title, Item.state)).all())
    assert titles[result["title"]] == ItemState.PENDING
    assert len(titles) == crawled + 3  # the item of each of the three publishes
    assert _subscription(database, websub.source_id).last_delivery_at is not None


def test_renew_due_renews_close_to_expiry(websub: WebSubSetup, database: Database) -> None:
    lease = websub.settings.websub
    with database.session() as session:
        note_hub(session, websub.source_id, websub.sample.url(HUB_PATH), websub.topic)
    assert renew_due(websub.settings, database) == 1
    websub.hub("POST", "/_control/websub/verify", topic=websub.topic)
    # Far from the end of the lease (and requested just now): nothing to renew.
    assert renew_due(websub.settings, database) == 0
    with database.session() as session:
        subscription = session.scalar(select(WebSubSubscription))
        assert subscription is not None
        subscription.expires_at = utcnow() + timedelta(seconds=lease.renew_before_s // 2)
        subscription.requested_at = utcnow() - timedelta(seconds=lease.retry_pending_s + 1)
    assert renew_due(websub.settings, database) == 1
    requests = websub.hub("GET", "/_control/websub/requests").json()
    assert len(requests) == 2 and requests[0]["callback"] == requests[1]["callback"]
    # Still active while the hub re-verifies; the renewed verification extends the lease.
    assert _subscription(database, websub.source_id).state == WebSubState.ACTIVE
    websub.hub("POST", "/_control/websub/verify", topic=websub.topic)
    renewed = _subscription(database, websub.source_id)
    assert renewed.expires_at is not None
    assert renewed.expires_at > utcnow() + timedelta(seconds=lease.lease_s - 60)


def test_lapsed_lease_expires_and_polling_resumes(websub: WebSubSetup, database: Database) -> None:
    with database.session() as session:
        note_hub(session, websub.source_id, websub.sample.url(HUB_PATH), websub.topic)
    renew_due(websub.settings, database)
    websub.hub("POST", "/_control/websub/verify", topic=websub.topic)
    with database.session() as session:
        subscription = session.scalar(select(WebSubSubscription))
        assert subscription is not None
        subscription.expires_at = utcnow() - timedelta(seconds=1)
        subscription.requested_at = utcnow() - timedelta(days=30)
    # The lapsed lease expires (the source polls at its own rate again) and a new request goes out.
    assert renew_due(websub.settings, database) == 1
    assert _subscription(database, websub.source_id).state == WebSubState.PENDING
    with database.session() as session:
        source = session.get(Source, websub.source_id)
        assert source is not None and source.check_interval_s == BASE_INTERVAL_S


def test_denied_subscription(websub: WebSubSetup, database: Database) -> None:
    with database.session() as session:
        note_hub(session, websub.source_id, websub.sample.url(HUB_PATH), websub.topic)
    renew_due(websub.settings, database)
    token = _subscription(database, websub.source_id).callback_token
    params = {"hub.mode": "denied", "hub.topic": websub.topic, "hub.reason": "not allowed"}
    assert httpx.get(websub.app_url + CALLBACK_PATH + token, params=params).status_code == 200
    denied = _subscription(database, websub.source_id)
    assert denied.state == WebSubState.DENIED and "not allowed" in (denied.last_error or "")
    assert renew_due(websub.settings, database) == 0


def test_hub_on_private_address_is_refused(settings: Settings, database: Database) -> None:
    with database.session() as session:
        unit = add_unit(session, "city", "市政府", "city")
        source = Source(unit_id=unit.id, name="feed", kind="feed", url="https://www.example.gov.cn/rss.xml")
        session.add(source)
        session.flush()
        note_hub(session, source.id, "http://169.254.169.254/hub", "https://www.example.gov.cn/rss.xml")
        source_id = source.id
    assert renew_due(settings, database) == 0  # no request leaves the process
    refused = _subscription(database, source_id)
    assert "refused" in (refused.last_error or "") and "169.254.169.254" in (refused.last_error or "")


@pytest.mark.parametrize("lease", [str(2**31), str(10**20)])
def test_verification_with_a_lease_no_store_holds(
    websub: WebSubSetup, database: Database, lease: str
) -> None:
    """A hub's hub.lease_seconds past the store's INTEGER (and timedelta) is ignored: the subscription
    is verified with the lease we asked for, not answered 500 (issue 8)."""
    with database.session() as session:
        note_hub(session, websub.source_id, websub.sample.url(HUB_PATH), websub.topic)
    renew_due(websub.settings, database)
    token = _subscription(database, websub.source_id).callback_token
    params = {
        "hub.mode": "subscribe",
        "hub.topic": websub.topic,
        "hub.challenge": "c1",
        "hub.lease_seconds": lease,
    }
    answer = httpx.get(websub.app_url + CALLBACK_PATH + token, params=params)
    assert (answer.status_code, answer.text) == (200, "c1")
    verified = _subscription(database, websub.source_id)
    assert verified.state == WebSubState.ACTIVE
    assert verified.lease_seconds == websub.settings.websub.lease_s
