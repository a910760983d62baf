"""Observe every request (docs/architecture.md step 8): a request id, its latency in the metrics,
one access-log line.

A pure ASGI middleware (no BaseHTTPMiddleware: it would cost the public search its throughput). The
id comes from an ``X-Request-ID`` header when it looks like one (a proxy's), else it is new; it is
sent back in ``X-Request-ID`` and attached to every log record of the request (``hub.logsetup``). The
route is the matched route's template (``/items/{item_id}``), never the raw path: paths can carry
secrets (WebSub callback tokens) and unbounded values. Nothing from headers, cookies or the query
string is logged.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import AppMetrics
from hub.logsetup import REQUEST_ID

logger = logging.getLogger("xinlian.access")
REQUEST_ID_HEADER = b"x-request-id"
_GOOD_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
UNMATCHED = "<unmatched>"


def route_template(scope: Scope) -> str:
    """The template of the route that answered (a mount's prefix for static files), else <unmatched>."""
    route: Any = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            return text if _GOOD_ID.fullmatch(text) else None
    return None


class RequestObserver:
    """ASGI middleware: request id, latency histogram and access log for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: AppMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe(route, scope["method"], status, seconds)
            logger.info(
                "%s %s %d %.1fms",
                scope["method"],
                route,
                status,
                seconds * 1000,
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            REQUEST_ID.reset(token)
