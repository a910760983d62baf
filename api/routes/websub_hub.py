"""Our WebSub hub's public endpoint: ``POST /websub/hub`` (subscribe / unsubscribe to one of our feeds).

The request is checked and recorded, then answered 202 Accepted: the worker verifies the intent with
the subscriber (api/feeds/hubjob.py) before anything changes. ``hub.topic`` must be one of our feeds
(its canonical URL is what is stored), ``hub.callback`` an http(s) URL that passes the private-address
guard, ``hub.secret`` shorter than 200 bytes (WebSub 5.1), ``hub.lease_seconds`` is bounded by
``websubhub.min_lease_s`` .. ``max_lease_s``.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from api import content
from api.deps import get_database, get_settings
from api.feeds.callbacks import callback_guard
from api.feeds.entries import HUB_PATH
from api.feeds.spec import parse_topic
from hub.db import Database
from hub.timeutil import utcnow
from hub.websubhub import MODES, grant_lease, request_intent
from hub.websubhub_http import CallbackRefused
from hub.wholenumber import whole_number

router = APIRouter(tags=["websub"])
MAX_FORM_BYTES = 8192
MAX_URL_CHARS = 1000  # the store's column size
MAX_SECRET_BYTES = 199


def _bad(detail: str) -> HTTPException:
    return HTTPException(status_code=400, detail=detail)


@router.post(HUB_PATH, status_code=202, name="websub_hub")
async def hub_endpoint(request: Request) -> Response:
    """Accept a subscription request for verification (202), or say why it is refused (400)."""
    settings = get_settings(request)
    if not settings.websubhub.enabled:
        raise HTTPException(status_code=404, detail="the WebSub hub is disabled")
    declared = request.headers.get("content-length", "")
    if (whole_number(declared) or 0) > MAX_FORM_BYTES:
        raise HTTPException(status_code=413, detail=f"larger than {MAX_FORM_BYTES} bytes")
    form = await request.form()
    secret = str(form.get("hub.secret") or "")
    mode, topic, callback = (
        str(form.get(f"hub.{key}") or "").strip() for key in ("mode", "topic", "callback")
    )
    lease = str(form.get("hub.lease_seconds") or "").strip()
    if mode not in MODES:
        raise _bad("hub.mode must be subscribe or unsubscribe")
    spec = parse_topic(topic, settings.web.base_url)
    if spec is None:
        raise _bad("hub.topic is not one of this hub's feeds")
    if len(callback) > MAX_URL_CHARS or "#" in callback:
        raise _bad("hub.callback is too long or has a fragment")
    if len(secret.encode("utf-8")) > MAX_SECRET_BYTES:
        raise _bad("hub.secret must be shorter than 200 bytes")
    if lease and whole_number(lease) is None:
        raise _bad("hub.lease_seconds must be a number of seconds")
    database = get_database(request)
    if spec.unit and not await run_in_threadpool(_unit_exists, database, spec.unit):
        raise _bad("hub.topic names a unit that does not exist")
    try:  # resolves the host name: off the event loop
        await run_in_threadpool(callback_guard(settings.websubhub), callback)
    except CallbackRefused as exc:
        raise _bad(str(exc)) from None
    canonical = spec.url(settings.web.base_url)
    lease_seconds = grant_lease(int(lease) if lease else None, settings.websubhub)
    await run_in_threadpool(_record, database, mode, canonical, callback, secret, lease_seconds)
    return Response(status_code=202)


def _unit_exists(database: Database, slug: str) -> bool:
    with database.session() as session:
        return content.unit_by_slug(session, slug) is not None


def _record(
    database: Database, mode: str, topic: str, callback: str, secret: str, lease_seconds: int
) -> None:
    with database.session() as session:
        request_intent(session, mode, topic, callback, secret or None, lease_seconds, utcnow())
