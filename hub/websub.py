"""WebSub subscriptions in the store: discovered hubs, requests, verification, leases (architecture step 4).

The HTTP side (finding ``rel=hub`` in a feed, POSTing the request, reading a delivery) lives in
``crawlers/websub.py`` and ``api/routes/websub.py``; this module only moves a subscription through
its states: discovered → pending → active → (renewed | expired), or denied by the hub. While a
subscription is active its source is still polled, but no more often than ``websub.safety_poll_s``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.models import Source, WebSubState, WebSubSubscription
from hub.settings import WebSubSettings
from hub.timeutil import utcnow

ERROR_MAX = 500
# The hub re-verifies an active subscription when it is renewed, so both states accept a verification.
VERIFIABLE = frozenset({WebSubState.PENDING.value, WebSubState.ACTIVE.value})


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    """What the subscribe POST needs, read from the store so no session is open during the request."""

    subscription_id: int
    hub_url: str
    topic: str
    secret: str
    callback_token: str
    lease_seconds: int

    def __repr__(self) -> str:  # the secret must never reach a log line
        return f"SubscribeRequest(id={self.subscription_id}, hub={self.hub_url!r}, topic={self.topic!r})"


def note_hub(session: Session, source_id: int, hub_url: str, topic: str, now: datetime | None = None) -> None:
    """Remember that the source's feed advertises ``hub_url`` for ``topic`` (a new hub starts afresh)."""
    subscription = session.scalar(select(WebSubSubscription).where(WebSubSubscription.source_id == source_id))
    if subscription is None:
        subscription = WebSubSubscription(
            source_id=source_id,
            hub_url=hub_url,
            topic=topic,
            secret=secrets.token_hex(32),
            callback_token=secrets.token_urlsafe(24),
            state=WebSubState.DISCOVERED.value,
            created_at=now or utcnow(),
        )
        session.add(subscription)
    elif (subscription.hub_url, subscription.topic) != (hub_url, topic):
        # The feed moved to another hub or topic: the old lease is worthless, subscribe again.
        _restore_interval(session, subscription)
        subscription.hub_url, subscription.topic = hub_url, topic
        subscription.secret = secrets.token_hex(32)
        subscription.state = WebSubState.DISCOVERED.value
        subscription.expires_at = subscription.requested_at = subscription.verified_at = None
    session.flush()


def claim_due(
    session: Session, config: WebSubSettings, now: datetime | None = None
) -> list[SubscribeRequest]:
    """Subscriptions to (re)request now: new, expired, renewable, or pending too long; marks them requested.

    A subscription requested less than ``retry_pending_s`` ago is left alone, so a hub that is down
    is not asked again at every tick.
    """
    now = now or utcnow()
    not_recent = or_(
        WebSubSubscription.requested_at.is_(None),
        WebSubSubscription.requested_at <= now - timedelta(seconds=config.retry_pending_s),
    )
    due = or_(
        WebSubSubscription.state.in_([WebSubState.DISCOVERED.value, WebSubState.EXPIRED.value]),
        and_(WebSubSubscription.state == WebSubState.PENDING.value, not_recent),
        and_(
            WebSubSubscription.state == WebSubState.ACTIVE.value,
            WebSubSubscription.expires_at <= now + timedelta(seconds=config.renew_before_s),
            not_recent,
        ),
    )
    rows = session.scalars(
        select(WebSubSubscription)
        .join(Source, Source.id == WebSubSubscription.source_id)
        .where(due, Source.enabled.is_(True))
        .order_by(WebSubSubscription.id)
    ).all()
    requests = []
    for subscription in rows:
        if subscription.state != WebSubState.ACTIVE.value:
            subscription.state = WebSubState.PENDING.value
        subscription.requested_at = now
        subscription.lease_seconds = config.lease_s
        requests.append(
            SubscribeRequest(
                subscription.id,
                subscription.hub_url,
                subscription.topic,
                subscription.secret,
                subscription.callback_token,
                config.lease_s,
            )
        )
    session.flush()
    return requests


def record_request_error(session: Session, subscription_id: int, message: str) -> None:
    """The subscribe POST failed; it is retried after ``retry_pending_s`` (an active lease stays usable)."""
    subscription = session.get(WebSubSubscription, subscription_id)
    if subscription is not None:
        subscription.last_error = message[:ERROR_MAX]
        session.flush()


def verify_intent(
    session: Session,
    token: str,
    mode: str,
    topic: str,
    lease_seconds: int | None,
    config: WebSubSettings,
    reason: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Handle the hub's GET to our callback; True when it concerns a subscription we asked for.

    ``subscribe`` activates a pending (or renewed active) subscription of the same topic; ``denied``
    records the hub's refusal. We never ask to unsubscribe, so an ``unsubscribe`` is never confirmed.
    """
    now = now or utcnow()
    subscription = by_token(session, token)
    if subscription is None or subscription.topic != topic:
        return False
    if mode == "subscribe" and subscription.state in VERIFIABLE:
        lease = lease_seconds if lease_seconds and lease_seconds > 0 else subscription.lease_seconds
        subscription.state = WebSubState.ACTIVE.value
        subscription.verified_at = now
        subscription.lease_seconds = lease or config.lease_s
        subscription.expires_at = now + timedelta(seconds=subscription.lease_seconds)
        subscription.last_error = None
        _lengthen_interval(session, subscription, config.safety_poll_s, now)
    elif mode == "denied" and subscription.state != WebSubState.DENIED.value:
        subscription.state = WebSubState.DENIED.value
        subscription.last_error = f"denied by the hub: {reason or 'no reason given'}"[:ERROR_MAX]
        _restore_interval(session, subscription)
    else:
        return False
    session.flush()
    return True


def expire_lapsed(session: Session, now: datetime | None = None) -> int:
    """Mark active subscriptions whose lease has ended as expired; their sources poll as before."""
    now = now or utcnow()
    lapsed = session.scalars(
        select(WebSubSubscription).where(
            WebSubSubscription.state == WebSubState.ACTIVE.value, WebSubSubscription.expires_at <= now
        )
    ).all()
    for subscription in lapsed:
        subscription.state = WebSubState.EXPIRED.value
        _restore_interval(session, subscription)
    session.flush()
    return len(lapsed)


def by_token(session: Session, token: str) -> WebSubSubscription | None:
    """The subscription whose callback URL ends in ``token``."""
    return session.scalar(select(WebSubSubscription).where(WebSubSubscription.callback_token == token))


def accepting(subscription: WebSubSubscription | None, now: datetime | None = None) -> bool:
    """True when deliveries for the subscription are taken: active and within its lease."""
    return (
        subscription is not None
        and subscription.state == WebSubState.ACTIVE.value
        and (subscription.expires_at is None or subscription.expires_at > (now or utcnow()))
    )


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``X-Hub-Signature`` is ``sha256=<hex HMAC of body>``; SHA-1 and other methods are refused."""
    if not header or "=" not in header:
        return False
    method, _, given = header.strip().partition("=")
    if method.lower() != "sha256":
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def _lengthen_interval(
    session: Session, subscription: WebSubSubscription, safety_poll_s: int, now: datetime
) -> None:
    # Pushes arrive as they happen: polling stays only as a slow safety net.
    source = session.get(Source, subscription.source_id)
    if source is None:
        return
    if subscription.base_interval_s is None:
        subscription.base_interval_s = source.check_interval_s
    source.check_interval_s = max(subscription.base_interval_s, safety_poll_s)
    slow = now + timedelta(seconds=source.check_interval_s)
    if source.next_check_at is None or source.next_check_at < slow:
        source.next_check_at = slow


def _restore_interval(session: Session, subscription: WebSubSubscription) -> None:
    source = session.get(Source, subscription.source_id)
    if source is not None and subscription.base_interval_s is not None:
        source.check_interval_s = subscription.base_interval_s
        # Without pushes the source must be looked at again on its own schedule, starting now.
        source.next_check_at = utcnow()
    subscription.base_interval_s = None
