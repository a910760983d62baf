"""Our own WebSub hub, in the store (docs/architecture.md step 8): intents, subscriptions, publishes,
deliveries. The network side is ``hub/websubhub_http.py``; the worker job that drives both is
``api/feeds/hubjob.py`` (it renders the feeds).

A subscribe or unsubscribe request becomes an intent; the worker verifies it with the subscriber
(GET with a challenge) and only then creates, renews or removes the subscription, with a lease.
Moderation calls ``queue_publish`` in the transaction of every decision, so an item that goes live or
leaves the portal is never lost between the decision and the deliveries. Deliveries live in the
store with their attempts and next attempt time: a restart resumes them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.orm import Session

from hub.models import HubDelivery, HubIntent, HubPublish, HubSubscription, ItemState, OutboxEntry, core_table
from hub.settings import WebSubHubSettings
from hub.timeutil import doubling_backoff

MODES = ("subscribe", "unsubscribe")
APPROVED, WITHDRAWN = "approved", "withdrawn"
# Decisions that put (new or edited) content live; a first approval of a two-step review does not.
LIVE_ACTIONS = frozenset({"approve", "auto_approve"})
CLAIM_S = 600  # a claimed intent or delivery is tried again after this long if its worker died
ERROR_MAX = 500


@dataclass(frozen=True, slots=True)
class IntentRequest:
    """A verification to make, read from the store so no session stays open during the request."""

    intent_id: int
    mode: str
    topic: str
    callback: str
    lease_seconds: int
    attempts: int

    def __repr__(self) -> str:
        return f"IntentRequest(id={self.intent_id}, mode={self.mode}, topic={self.topic!r})"


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    """A delivery to make: where, with which secret, and the generation it answers for."""

    delivery_id: int
    subscription_id: int
    topic: str
    callback: str
    secret: str | None
    generation: int
    attempts: int

    def __repr__(self) -> str:  # the secret must never reach a log line
        return f"DeliveryRequest(id={self.delivery_id}, topic={self.topic!r}, callback={self.callback!r})"


def backoff(attempts: int, config: WebSubHubSettings) -> timedelta:
    """Wait before attempt ``attempts + 1``: base, doubled per failure, capped."""
    return doubling_backoff(attempts, config.backoff_base_s, config.backoff_max_s)


def grant_lease(asked: int | None, config: WebSubHubSettings) -> int:
    """The lease we grant: the configured default when none is asked, else within our bounds."""
    if asked is None or asked <= 0:
        return config.lease_s
    return max(config.min_lease_s, min(asked, config.max_lease_s))


def sign(secret: str, body: bytes) -> str:
    """``X-Hub-Signature`` value of ``body``: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


# --- intents -----------------------------------------------------------------------------------


def request_intent(
    session: Session,
    mode: str,
    topic: str,
    callback: str,
    secret: str | None,
    lease_seconds: int,
    now: datetime,
) -> int:
    """Record a subscribe/unsubscribe request to verify; a newer request for the same pair replaces
    any still waiting (the subscriber's last word counts)."""
    if mode not in MODES:
        raise ValueError(f"unknown hub.mode {mode!r}")
    session.execute(delete(HubIntent).where(HubIntent.topic == topic, HubIntent.callback == callback))
    intent = HubIntent(
        mode=mode,
        topic=topic,
        callback=callback,
        secret=secret or None,
        lease_seconds=lease_seconds,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(intent)
    session.flush()
    return intent.id


def claim_intents(session: Session, now: datetime, batch: int = 100) -> list[IntentRequest]:
    """Intents due for verification; each is claimed for CLAIM_S so a second worker leaves it alone."""
    rows = session.scalars(
        select(HubIntent).where(HubIntent.next_attempt_at <= now).order_by(HubIntent.id).limit(batch)
    ).all()
    claimed = []
    for intent in rows:
        intent.next_attempt_at = now + timedelta(seconds=CLAIM_S)
        claimed.append(
            IntentRequest(
                intent.id, intent.mode, intent.topic, intent.callback, intent.lease_seconds, intent.attempts
            )
        )
    session.flush()
    return claimed


def intent_confirmed(session: Session, intent_id: int, now: datetime) -> HubSubscription | None:
    """The subscriber confirmed: subscribe creates or renews the subscription, unsubscribe removes it.
    Returns the subscription (None after an unsubscribe, or when the intent was replaced meanwhile)."""
    intent = session.get(HubIntent, intent_id)
    if intent is None:
        return None
    found = session.scalar(
        select(HubSubscription).where(
            HubSubscription.topic == intent.topic, HubSubscription.callback == intent.callback
        )
    )
    session.delete(intent)
    if intent.mode == "unsubscribe":
        if found is not None:
            session.delete(found)
        session.flush()
        return None
    if found is None:
        found = HubSubscription(topic=intent.topic, callback=intent.callback, created_at=now)
        session.add(found)
    found.secret = intent.secret
    found.lease_seconds = intent.lease_seconds
    found.expires_at = now + timedelta(seconds=intent.lease_seconds)
    found.verified_at = now
    found.last_error = None
    session.flush()
    return found


def intent_refused(session: Session, intent_id: int) -> None:
    """The subscriber did not confirm (wrong challenge, or a 4xx): nothing changes, the intent is gone."""
    session.execute(delete(HubIntent).where(HubIntent.id == intent_id))


def intent_failed(
    session: Session, intent_id: int, error: str, now: datetime, config: WebSubHubSettings
) -> bool:
    """The callback could not be reached: try again later; True when it is given up instead."""
    intent = session.get(HubIntent, intent_id)
    if intent is None:
        return True
    intent.attempts += 1
    intent.last_error = error[:ERROR_MAX]
    if intent.attempts >= config.max_attempts:
        session.delete(intent)
        session.flush()
        return True
    intent.next_attempt_at = now + backoff(intent.attempts, config)
    session.flush()
    return False


def expire_subscriptions(session: Session, now: datetime) -> int:
    """Remove subscriptions whose lease has ended (and the deliveries they were owed)."""
    lapsed = list(session.scalars(select(HubSubscription.id).where(HubSubscription.expires_at <= now)))
    if lapsed:
        session.execute(delete(HubDelivery).where(HubDelivery.subscription_id.in_(lapsed)))
        session.execute(delete(HubSubscription).where(HubSubscription.id.in_(lapsed)))
    return len(lapsed)


# --- publishing --------------------------------------------------------------------------------


def publish_event(action: str, from_state: str | None, to_state: str) -> str | None:
    """What a moderation decision means to feed subscribers: content went live, left, or nothing."""
    if to_state == ItemState.APPROVED.value and action in LIVE_ACTIONS:
        return APPROVED
    if from_state == ItemState.APPROVED.value and to_state != ItemState.APPROVED.value:
        return WITHDRAWN
    return None


def queue_publish(
    session: Session, item_id: int, action: str, from_state: str | None, to_state: str, now: datetime
) -> None:
    """Moderation hook (same transaction as the decision): note an item that went live or left the
    portal, when anyone subscribes to our feeds at all."""
    event = publish_event(action, from_state, to_state)
    if event is None or not _has_subscribers(session):
        return
    session.add(HubPublish(item_id=item_id, event=event, created_at=now))


def queue_publish_many(session: Session, item_ids: Sequence[int], now: datetime) -> None:
    """Batch moderation hook: items approved together by bulk statements (auto-approve on ingest)."""
    if not item_ids or not _has_subscribers(session):
        return
    session.connection().execute(
        insert(core_table(HubPublish)),
        [{"item_id": item_id, "event": APPROVED, "created_at": now} for item_id in item_ids],
    )


def _has_subscribers(session: Session) -> bool:
    return session.scalar(select(exists().where(HubSubscription.id.is_not(None)))) is True


def take_publishes(session: Session, now: datetime, index_wait_s: int, batch: int = 500) -> list[HubPublish]:
    """Publishes ready to fan out, oldest first. One waits (at most ``index_wait_s``) while its item
    still has an index outbox row, so a search feed delivered for it already shows the change."""
    indexing = select(OutboxEntry.id).where(OutboxEntry.item_id == HubPublish.item_id).exists()
    ready = ~indexing | (HubPublish.created_at <= now - timedelta(seconds=index_wait_s))
    return list(session.scalars(select(HubPublish).where(ready).order_by(HubPublish.id).limit(batch)))


def drop_publishes(session: Session, publish_ids: Sequence[int]) -> None:
    """Forget publishes that have been fanned out."""
    if publish_ids:
        session.execute(delete(HubPublish).where(HubPublish.id.in_(list(publish_ids))))


def active_topics(session: Session, now: datetime) -> dict[str, list[int]]:
    """Subscription ids by topic, for subscriptions within their lease."""
    topics: dict[str, list[int]] = {}
    rows = session.execute(
        select(HubSubscription.topic, HubSubscription.id).where(HubSubscription.expires_at > now)
    )
    for topic, subscription_id in rows:
        topics.setdefault(topic, []).append(subscription_id)
    return topics


def owe_deliveries(session: Session, subscription_ids: Sequence[int], now: datetime) -> None:
    """Make sure each subscription is owed its feed: a new delivery, or a newer generation of the
    waiting one (which keeps its backoff: a publish never makes us hammer a failing subscriber)."""
    wanted = sorted(set(subscription_ids))
    if not wanted:
        return
    waiting = set(
        session.scalars(select(HubDelivery.subscription_id).where(HubDelivery.subscription_id.in_(wanted)))
    )
    if waiting:
        session.execute(
            update(HubDelivery)
            .where(HubDelivery.subscription_id.in_(waiting))
            .values(generation=HubDelivery.generation + 1)
        )
    fresh = [sid for sid in wanted if sid not in waiting]
    if fresh:
        session.connection().execute(
            insert(core_table(HubDelivery)),
            [
                {
                    "subscription_id": sid,
                    "generation": 1,
                    "created_at": now,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for sid in fresh
            ],
        )


# --- deliveries --------------------------------------------------------------------------------


def claim_deliveries(
    session: Session, now: datetime, batch: int = 100, exclude: Collection[int] = ()
) -> list[DeliveryRequest]:
    """Deliveries due now, claimed for CLAIM_S (a worker that dies mid-send leaves them to the next);
    ``exclude``: deliveries already sent in this run (one owed again waits for the next run)."""
    query = (
        select(HubDelivery, HubSubscription)
        .join(HubSubscription, HubSubscription.id == HubDelivery.subscription_id)
        .where(HubDelivery.next_attempt_at <= now, HubSubscription.expires_at > now)
    )
    if exclude:
        query = query.where(HubDelivery.id.not_in(list(exclude)))
    rows = session.execute(query.order_by(HubDelivery.next_attempt_at, HubDelivery.id).limit(batch)).all()
    claimed = []
    for delivery, subscription in rows:
        delivery.next_attempt_at = now + timedelta(seconds=CLAIM_S)
        claimed.append(
            DeliveryRequest(
                delivery.id,
                subscription.id,
                subscription.topic,
                subscription.callback,
                subscription.secret,
                delivery.generation,
                delivery.attempts,
            )
        )
    session.flush()
    return claimed


def delivery_sent(session: Session, request: DeliveryRequest, status: int, now: datetime) -> None:
    """The subscriber took it. A publish that arrived during the send is sent again right away."""
    session.execute(
        update(HubSubscription)
        .where(HubSubscription.id == request.subscription_id)
        .values(last_delivery_at=now, last_error=None)
    )
    gone = session.execute(
        delete(HubDelivery).where(
            HubDelivery.id == request.delivery_id, HubDelivery.generation == request.generation
        )
    )
    if getattr(gone, "rowcount", 0) == 0:
        session.execute(
            update(HubDelivery)
            .where(HubDelivery.id == request.delivery_id)
            .values(attempts=0, next_attempt_at=now, last_status=status, last_error=None)
        )


def delivery_failed(
    session: Session,
    request: DeliveryRequest,
    error: str,
    status: int | None,
    now: datetime,
    config: WebSubHubSettings,
) -> bool:
    """The send failed: retry after a backoff; True when it is given up (the next publish tries anew)."""
    delivery = session.get(HubDelivery, request.delivery_id)
    if delivery is None:
        return True
    delivery.attempts += 1
    delivery.last_status = status
    delivery.last_error = error[:ERROR_MAX]
    if delivery.attempts >= config.max_attempts:
        session.execute(
            update(HubSubscription)
            .where(HubSubscription.id == request.subscription_id)
            .values(last_error=f"gave up after {delivery.attempts} attempts: {error}"[:ERROR_MAX])
        )
        session.delete(delivery)
        session.flush()
        return True
    delivery.next_attempt_at = now + backoff(delivery.attempts, config)
    session.flush()
    return False
