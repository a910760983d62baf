"""A WebSub hub on the sample network, and feeds that advertise it.

``/websub/feeds/<slug>.xml`` is a site's RSS feed naming the hub (``Link`` header and
``<atom:link rel="hub">``) and itself as the topic. ``POST /websub/hub`` records subscription
requests (answer 202, as real hubs do). The hub acts only when told, so tests need no waiting:
``POST /_control/websub/verify?topic=…`` sends the verification GET to each subscriber's callback,
``POST /_control/websub/publish?slug=…&signature=good|bad|none`` publishes an item and delivers the
feed, signed with each subscriber's secret (or deliberately wrong, or unsigned).
``GET /_control/websub/requests`` lists what the hub received.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from samplenet import render_feeds
from samplenet.generate import publish_item
from samplenet.model import SampleNetwork

HUB_PATH = "/websub/hub"
FEED_TYPE = "application/rss+xml; charset=utf-8"
CALLBACK_TIMEOUT_S = 10.0
_SELF_LINK = re.compile(rb'<atom:link href="[^"]*" rel="self"')


@dataclass
class HubSubscription:
    """One (topic, callback) the hub was asked about, as it received it."""

    mode: str
    topic: str
    callback: str
    secret: str
    lease_seconds: int
    verified: bool = False


def feed_path(slug: str) -> str:
    """Server path of the hub-advertising feed of site ``slug``."""
    return f"/websub/feeds/{slug}.xml"


class SampleHub:
    """Routes of the sample hub over one network; its state lives on the server's event loop."""

    def __init__(self, network: SampleNetwork) -> None:
        self.network = network
        self.received: list[HubSubscription] = []
        self.subscriptions: dict[tuple[str, str], HubSubscription] = {}

    def routes(self) -> list[Route]:
        """The hub's routes, to add to the sample app."""
        return [
            Route("/websub/feeds/{slug}.xml", self.feed),
            Route(HUB_PATH, self.hub, methods=["POST"]),
            Route("/_control/websub/requests", self.requests),
            Route("/_control/websub/verify", self.verify, methods=["POST"]),
            Route("/_control/websub/publish", self.publish, methods=["POST"]),
        ]

    def _feed_body(self, slug: str, base: str) -> bytes:
        site = self.network.site(slug)
        with self.network.lock:
            items = list(site.items)
        topic, hub = base + feed_path(slug), base + HUB_PATH
        links = f'<atom:link href="{hub}" rel="hub"/>\n<atom:link href="{topic}" rel="self"'
        return _SELF_LINK.sub(links.encode(), render_feeds.rss_feed(site, items, base), count=1)

    async def feed(self, request: Request) -> Response:
        """A site's feed that advertises the hub."""
        slug, base = request.path_params["slug"], _base(request)
        try:
            body = self._feed_body(slug, base)
        except KeyError:
            return PlainTextResponse("not found", status_code=404)
        link = f'<{base}{HUB_PATH}>; rel="hub", <{base}{feed_path(slug)}>; rel="self"'
        return Response(body, headers={"Content-Type": FEED_TYPE, "Link": link})

    async def hub(self, request: Request) -> Response:
        """A subscription request: recorded, verified later on command."""
        form = await request.form()
        mode, topic = str(form.get("hub.mode") or ""), str(form.get("hub.topic") or "")
        callback, lease = str(form.get("hub.callback") or ""), str(form.get("hub.lease_seconds") or "")
        if mode not in ("subscribe", "unsubscribe") or not topic or not callback:
            return PlainTextResponse("hub.mode, hub.topic and hub.callback are required", status_code=400)
        subscription = HubSubscription(
            mode, topic, callback, str(form.get("hub.secret") or ""), int(lease) if lease.isdigit() else 86400
        )
        self.received.append(subscription)
        self.subscriptions[(subscription.topic, subscription.callback)] = subscription
        return PlainTextResponse("accepted", status_code=202)

    async def requests(self, request: Request) -> Response:
        """Every subscription request received so far, secrets included (a test checks them)."""
        return JSONResponse([asdict(subscription) for subscription in self.received])

    async def verify(self, request: Request) -> Response:
        """Send the verification GET for every subscription of ?topic=; report what each callback said."""
        topic = request.query_params.get("topic", "")
        results = []
        async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S) as client:
            for subscription in [s for s in self.subscriptions.values() if s.topic == topic]:
                challenge = secrets.token_urlsafe(16)
                params = {
                    "hub.mode": subscription.mode,
                    "hub.topic": subscription.topic,
                    "hub.challenge": challenge,
                    "hub.lease_seconds": str(subscription.lease_seconds),
                }
                response = await client.get(subscription.callback, params=params)
                subscription.verified = response.status_code == 200 and response.text == challenge
                results.append(
                    {
                        "callback": subscription.callback,
                        "status": response.status_code,
                        "verified": subscription.verified,
                    }
                )
        return JSONResponse(results)

    async def publish(self, request: Request) -> Response:
        """Publish an item on ?slug= and deliver the feed to its verified subscribers."""
        slug = request.query_params.get("slug", "")
        signature = request.query_params.get("signature", "good")
        if slug not in {site.slug for site in self.network.sites}:
            return JSONResponse({"error": f"unknown site {slug}"}, status_code=404)
        item = publish_item(self.network, slug)
        base = _base(request)
        body = self._feed_body(slug, base)
        topic = base + feed_path(slug)
        results = []
        async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S) as client:
            for subscription in self.subscriptions.values():
                if subscription.topic != topic or not subscription.verified:
                    continue
                headers = {
                    "Content-Type": FEED_TYPE,
                    "Link": f'<{base}{HUB_PATH}>; rel="hub", <{topic}>; rel="self"',
                }
                if signature != "none":
                    key = subscription.secret if signature == "good" else subscription.secret + "-wrong"
                    digest = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
                    headers["X-Hub-Signature"] = f"sha256={digest}"
                response = await client.post(subscription.callback, content=body, headers=headers)
                results.append({"callback": subscription.callback, "status": response.status_code})
        return JSONResponse({"title": item.title, "deliveries": results})


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"
