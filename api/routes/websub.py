"""WebSub callback (docs/architecture.md step 4): the hub's verification GET and signed content deliveries.

A verification is answered with the challenge only for a topic we asked to subscribe to; anything
else is a 404. A delivery must carry ``X-Hub-Signature: sha256=<HMAC of the raw body>`` made with
the subscription's secret; without it nothing is stored. Deliveries are capped at
``crawl.max_page_bytes`` and ingested in one transaction; the web process never fetches pages.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from api.deps import get_database, get_settings
from api.params import MAX_ROW_ID
from crawlers.feeds import FeedParseError
from crawlers.websub import CALLBACK_PATH, DeliveryResult, ingest_delivery
from hub.db import Database
from hub.settings import Settings
from hub.timeutil import utcnow
from hub.websub import accepting, by_token, signature_ok, verify_intent
from hub.wholenumber import whole_number

log = logging.getLogger(__name__)
router = APIRouter()
SIGNATURE_HEADER = "X-Hub-Signature"


class DeliveryRefused(Exception):
    """A delivery that is not stored; ``status`` is the HTTP answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _lease(value: str) -> int | None:
    """The hub's hub.lease_seconds; None (keep the lease we asked for) when missing, malformed or
    past what the store's INTEGER holds."""
    seconds = whole_number(value)
    return seconds if seconds is not None and seconds <= MAX_ROW_ID else None


@router.get(CALLBACK_PATH + "{token}", response_class=PlainTextResponse)
def verify(
    token: str,
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    database: Annotated[Database, Depends(get_database)],
) -> PlainTextResponse:
    """The hub confirms our intent: echo ``hub.challenge`` for a subscription we asked for, else 404."""
    query = request.query_params
    mode = query.get("hub.mode", "")
    topic = query.get("hub.topic", "")
    challenge = query.get("hub.challenge", "")
    lease = query.get("hub.lease_seconds", "")
    if not settings.websub.enabled:
        raise HTTPException(status_code=404, detail="WebSub is disabled")
    if mode == "subscribe" and not challenge:
        raise HTTPException(status_code=400, detail="hub.challenge missing")
    with database.session() as session:
        confirmed = verify_intent(
            session,
            token,
            mode,
            topic,
            _lease(lease),
            settings.websub,
            reason=query.get("hub.reason"),
        )
    if not confirmed:
        raise HTTPException(status_code=404, detail="no such subscription")
    return PlainTextResponse(challenge if mode == "subscribe" else "")


@router.post(CALLBACK_PATH + "{token}")
async def deliver(
    token: str,
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    database: Annotated[Database, Depends(get_database)],
) -> JSONResponse:
    """A content delivery: checked, parsed and ingested (items wait for review as ``pending``)."""
    limit = settings.crawl.max_page_bytes
    declared = request.headers.get("content-length", "")
    if (whole_number(declared) or 0) > limit:
        raise HTTPException(status_code=413, detail=f"larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status_code=413, detail=f"larger than {limit} bytes")
    try:
        result = await run_in_threadpool(
            _store_delivery,
            database,
            settings,
            token,
            bytes(body),
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get("content-type"),
        )
    except DeliveryRefused as refused:
        raise HTTPException(status_code=refused.status, detail=refused.detail) from None
    return JSONResponse(
        {
            "new": result.new,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "refused": result.refused,
        }
    )


def _store_delivery(
    database: Database,
    settings: Settings,
    token: str,
    body: bytes,
    signature: str | None,
    content_type: str | None,
) -> DeliveryResult:
    """Check and ingest one delivery in one transaction; raises DeliveryRefused, storing nothing."""
    with database.session() as session:
        subscription = by_token(session, token)
        if subscription is None or not settings.websub.enabled or not accepting(subscription):
            raise DeliveryRefused(404, "no active subscription")
        if not signature_ok(subscription.secret, body, signature):
            log.warning("websub delivery for subscription %d refused: bad signature", subscription.id)
            raise DeliveryRefused(403, "missing or bad X-Hub-Signature (sha256 required)")
        try:
            result = ingest_delivery(
                session, subscription.source_id, subscription.topic, body, content_type, settings
            )
        except FeedParseError as exc:
            raise DeliveryRefused(400, f"not a feed: {exc}") from exc
        subscription.last_delivery_at = utcnow()
    return result
