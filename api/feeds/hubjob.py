"""The worker's WebSub hub job (``xinlian worker``, every ``websubhub.tick_s``): verify, expire,
fan out, deliver — top to bottom in ``run_hub``.

Verification runs here rather than in the web request that asked for it: the request is answered
202 at once, the intent is in the database (a restart loses nothing), and only the worker ever calls
out to addresses the public gives us. Deliveries carry the topic's feed as it is when sent, rendered
once per topic and tick by the same code the feed routes use.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.feeds.callbacks import callback_guard
from api.feeds.query import UnknownFeed
from api.feeds.render import RenderedFeed, render_feed
from api.feeds.spec import FeedSpec, parse_topic
from api.feeds.topics import belongs
from hub.db import Database
from hub.models import HubPublish, Unit
from hub.settings import Settings
from hub.timeutil import utcnow
from hub.websubhub import (
    DeliveryRequest,
    active_topics,
    claim_deliveries,
    claim_intents,
    delivery_failed,
    delivery_sent,
    drop_publishes,
    expire_subscriptions,
    intent_confirmed,
    intent_failed,
    intent_refused,
    owe_deliveries,
    take_publishes,
)
from hub.websubhub_http import Guard, deliver, verify
from index.backend import SearchBackend, SearchBackendError
from index.document import documents_for

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HubTickStats:
    """What one run of the job did."""

    verified: int = 0
    refused: int = 0
    expired: int = 0
    publishes: int = 0
    delivered: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (
            f"verified {self.verified}, refused {self.refused}, expired {self.expired},"
            f" publishes {self.publishes}, delivered {self.delivered}, failed {self.failed}"
        )


def run_hub(
    settings: Settings,
    database: Database,
    backend: SearchBackend,
    client: httpx.Client | None = None,
    now: datetime | None = None,
    challenge: Callable[[], str] = lambda: secrets.token_urlsafe(32),
) -> HubTickStats:
    """One pass of the hub: verify due intents, drop lapsed leases, fan out publishes, send deliveries."""
    now = now or utcnow()
    config = settings.websubhub
    if not config.enabled:
        with database.session() as session:
            drop_publishes(session, list(session.scalars(select(HubPublish.id))))
        return HubTickStats()
    guard = callback_guard(config)
    own_client = client is None
    if client is None:
        client = httpx.Client(
            timeout=config.timeout_s,
            headers={"User-Agent": settings.crawl.user_agent},
            follow_redirects=False,
        )
    try:
        verified, refused = _verify(settings, database, client, guard, now, challenge)
        with database.session() as session:
            expired = expire_subscriptions(session, now)
            publishes = fan_out(session, settings, now)
        delivered, failed = _deliver(settings, database, backend, client, guard, now)
    finally:
        if own_client:
            client.close()
    stats = HubTickStats(verified, refused, expired, publishes, delivered, failed)
    log.debug("websub hub: %s", stats)
    return stats


def hub_job(settings: Settings, database: Database, backend: SearchBackend) -> Callable[[], None]:
    """``run_hub`` as a scheduler job of ``xinlian worker``."""

    def job() -> None:
        run_hub(settings, database, backend)

    return job


def _verify(
    settings: Settings,
    database: Database,
    client: httpx.Client,
    guard: Guard,
    now: datetime,
    challenge: Callable[[], str],
) -> tuple[int, int]:
    with database.session() as session:
        intents = claim_intents(session, now)
    confirmed = refused = 0
    for intent in intents:
        outcome = verify(client, guard, intent, challenge())
        with database.session() as session:
            if outcome.confirmed:
                intent_confirmed(session, intent.intent_id, now)
                confirmed += 1
            elif outcome.retry:
                if intent_failed(session, intent.intent_id, outcome.detail, now, settings.websubhub):
                    log.info("websub hub: gave up verifying %r: %s", intent, outcome.detail)
            else:
                intent_refused(session, intent.intent_id)
                refused += 1
                log.info("websub hub: %r not confirmed: %s", intent, outcome.detail)
    return confirmed, refused


def fan_out(session: Session, settings: Settings, now: datetime) -> int:
    """Turn ready publishes into deliveries owed to the subscribers of every feed each item is in."""
    publishes = take_publishes(session, now, settings.websubhub.index_wait_s)
    if not publishes:
        return 0
    topics = active_topics(session, now)
    specs: dict[str, FeedSpec] = {}
    for topic in topics:
        spec = parse_topic(topic, settings.web.base_url)
        if spec is not None:
            specs[topic] = spec
    slugs = {s.unit for s in specs.values() if s.unit} | {
        s.search.unit for s in specs.values() if s.search is not None and s.search.unit
    }
    unit_ids: dict[str, int] = {}
    if slugs:
        unit_ids = {
            slug: uid for slug, uid in session.execute(select(Unit.slug, Unit.id).where(Unit.slug.in_(slugs)))
        }
    documents = documents_for(session, {p.item_id for p in publishes}, settings.timezone) if specs else {}
    zone = ZoneInfo(settings.timezone)
    owed: set[int] = set()
    for publish in publishes:
        document = documents.get(publish.item_id)
        if document is None:  # deleted meanwhile: nothing to match it with
            continue
        for topic, spec in specs.items():
            if belongs(spec, document, unit_ids, zone):
                owed.update(topics[topic])
    owe_deliveries(session, sorted(owed), now)
    drop_publishes(session, [p.id for p in publishes])
    return len(publishes)


def _render(settings: Settings, database: Database, backend: SearchBackend, topic: str) -> RenderedFeed | str:
    """The topic's feed now, or why it cannot be rendered."""
    spec = parse_topic(topic, settings.web.base_url)
    if spec is None:
        return "not one of our feeds any more"
    try:
        with database.session() as session:
            return render_feed(session, backend, settings, spec)
    except UnknownFeed:
        return "the unit of this feed no longer exists"
    except SearchBackendError as exc:
        return f"search unavailable: {exc}"


def _deliver(
    settings: Settings,
    database: Database,
    backend: SearchBackend,
    client: httpx.Client,
    guard: Guard,
    now: datetime,
) -> tuple[int, int]:
    rendered: dict[str, RenderedFeed | str] = {}
    done: set[int] = set()
    delivered = failed = 0
    while True:
        with database.session() as session:
            requests = claim_deliveries(session, now, exclude=done)
        if not requests:
            return delivered, failed
        for request in requests:
            done.add(request.delivery_id)
            if request.topic not in rendered:
                rendered[request.topic] = _render(settings, database, backend, request.topic)
            ok = _send_one(settings, database, client, guard, request, rendered[request.topic], now)
            delivered, failed = delivered + ok, failed + (not ok)


def _send_one(
    settings: Settings,
    database: Database,
    client: httpx.Client,
    guard: Guard,
    request: DeliveryRequest,
    feed: RenderedFeed | str,
    now: datetime,
) -> bool:
    if isinstance(feed, str):
        status, detail, ok = None, feed, False
    else:
        sent = deliver(client, guard, request, feed.body, feed.media_type, feed.links)
        status, detail, ok = sent.status, sent.detail, sent.ok
    with database.session() as session:
        if ok and status is not None:
            delivery_sent(session, request, status, now)
        elif delivery_failed(session, request, detail, status, now, settings.websubhub):
            log.warning("websub hub: gave up delivering to %r: %s", request, detail)
    return ok
