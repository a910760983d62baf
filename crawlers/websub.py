"""WebSub subscriber, network side (docs/architecture.md step 4): hub discovery, subscribe, deliveries.

A feed names its hub in a ``Link: <…>; rel="hub"`` header or a ``<link rel="hub">`` in the document
(the header wins, as the WebSub spec says); the topic is the feed's ``rel="self"`` URL, else the
URL fetched. ``renew_due`` (a worker job) sends the subscription requests that are due, with the
private-address guard applied to the hub URL; ``ingest_delivery`` stores a verified delivery.
The state of each subscription is kept by ``hub/websub.py``.
"""

from __future__ import annotations

import logging
import re
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from sqlalchemy.orm import Session

from crawlers.safety import HostPolicy, parse_ip_literal
from hub.db import Database
from hub.settings import Settings
from hub.websub import SubscribeRequest, claim_due, expire_lapsed, record_request_error

if TYPE_CHECKING:
    import httpx  # imported where used: the crawl processes load this module for advertised_hub only

    from crawlers.feeds import ParsedFeed

log = logging.getLogger(__name__)
CALLBACK_PATH = "/websub/callback/"
# One link-value of a Link header: <url>; params (rel may list several space-separated values).
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r'rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))', re.IGNORECASE)


class SubscribeError(Exception):
    """The hub could not be asked (refused address, network error, or a non-2xx answer)."""


@dataclass(frozen=True, slots=True)
class AdvertisedHub:
    """The hub a feed advertises and the topic to subscribe to."""

    hub_url: str
    topic: str


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What a delivery did: items new, updated, unchanged, and refused as unusable."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0


def link_header_rels(values: list[str], base_url: str) -> dict[str, str]:
    """``rel`` → absolute URL from ``Link`` header values; the first link of each rel wins."""
    rels: dict[str, str] = {}
    for value in values:
        for match in _LINK.finditer(value):
            rel = _REL.search(match.group(2) or "")
            if rel is None:
                continue
            for name in (rel.group(1) or rel.group(2) or "").lower().split():
                rels.setdefault(name, urljoin(base_url, match.group(1).strip()))
    return rels


def advertised_hub(feed: ParsedFeed, link_headers: list[str], fetched_url: str) -> AdvertisedHub | None:
    """The hub and topic a fetched feed advertises, or None when it names no hub."""
    header = link_header_rels(link_headers, fetched_url)
    hub = header.get("hub") or (urljoin(fetched_url, feed.hub_url) if feed.hub_url else None)
    if not hub or urlsplit(hub).scheme not in ("http", "https"):
        return None
    topic = header.get("self") or (urljoin(fetched_url, feed.self_url) if feed.self_url else fetched_url)
    return AdvertisedHub(hub, topic)


def callback_url(settings: Settings, token: str) -> str:
    """The public URL the hub calls for the subscription with ``token``."""
    return settings.web.base_url.rstrip("/") + CALLBACK_PATH + token


def check_hub_url(policy: HostPolicy, url: str) -> None:
    """Raise SubscribeError when ``url`` is not http(s) or reaches a private address not allow-listed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SubscribeError(f"{url}: only http(s) hubs can be used")
    host = parts.hostname.lower()
    if policy.allowed_name(host):
        return
    literal = parse_ip_literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = [str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]
        except (socket.gaierror, UnicodeError) as exc:
            raise SubscribeError(f"{url}: DNS lookup failed ({exc})") from exc
    reason = policy.refusal(host, addresses)
    if reason is not None:
        raise SubscribeError(f"{url}: refused, {reason} (not allow-listed)")


def send_subscribe(
    client: httpx.Client, policy: HostPolicy, request: SubscribeRequest, callback: str
) -> None:
    """POST the subscription request to the hub; a 2xx answer means it will verify our callback."""
    import httpx

    check_hub_url(policy, request.hub_url)
    form = {
        "hub.mode": "subscribe",
        "hub.topic": request.topic,
        "hub.callback": callback,
        "hub.secret": request.secret,
        "hub.lease_seconds": str(request.lease_seconds),
    }
    try:
        # Redirects are not followed: a hub that moves must be advertised again by the feed.
        response = client.post(request.hub_url, data=form)
    except httpx.HTTPError as exc:
        raise SubscribeError(f"{request.hub_url}: {exc.__class__.__name__}") from exc
    if not 200 <= response.status_code < 300:
        raise SubscribeError(f"{request.hub_url}: HTTP {response.status_code} {response.text[:200]!r}")


def renew_due(settings: Settings, database: Database, now: datetime | None = None) -> int:
    """Worker job: expire lapsed leases, send every due subscription request; returns how many were sent."""
    import httpx

    if not settings.websub.enabled:
        return 0
    with database.session() as session:
        expire_lapsed(session, now)
        requests = claim_due(session, settings.websub, now)
    # The state is committed before the POST: a hub may verify the callback before it answers.
    sent = 0
    policy = HostPolicy(settings.crawl.allow_private_networks, settings.crawl.allowed_private_hosts)
    headers = {"User-Agent": settings.crawl.user_agent}
    with httpx.Client(timeout=settings.crawl.download_timeout_s, headers=headers) as client:
        for request in requests:
            try:
                send_subscribe(client, policy, request, callback_url(settings, request.callback_token))
            except SubscribeError as exc:
                log.warning("websub subscription %d not requested: %s", request.subscription_id, exc)
                with database.session() as session:
                    record_request_error(session, request.subscription_id, str(exc))
                continue
            sent += 1
    return sent


def ingest_delivery(
    session: Session,
    source_id: int,
    topic: str,
    body: bytes,
    content_type: str | None,
    settings: Settings,
) -> DeliveryResult:
    """Parse a verified delivery and ingest its entries in the caller's transaction.

    Raises crawlers.feeds.FeedParseError for a body that is not a feed. Teaser-only entries are stored
    as they are: the web process never fetches pages; the next poll of the source completes them.
    """
    # Imported here: the worker loads this module to renew subscriptions, and the feed reader and
    # ingest (lxml, numpy, the screening lexicon) would add ~40 MB to a process that never parses.
    from crawlers.feeds import parse_feed
    from hub.ingest import ingest

    feed = parse_feed(body, source_id, topic, content_type, zone=settings.timezone)
    counts = {"new": 0, "updated": 0, "unchanged": 0, "refused": 0}
    for entry in feed.entries[: settings.crawl.max_items_per_source]:
        try:
            counts[ingest(session, entry.item).status] += 1
        except ValueError:  # raised before anything of the entry is written (no title, bad URL)
            counts["refused"] += 1
    return DeliveryResult(**counts)
