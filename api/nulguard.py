"""Refuse URLs holding a NUL character before any route reads them (docs/architecture.md step 8).

PostgreSQL text cannot hold NUL (0x00): a query parameter or path part with ``%00`` that reached a
query was a 500 (psycopg DataError) on whichever route forgot to check it. No URL of ours has a
use for NUL, so one guard in front of the app answers 400 for all of them.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

BODY = json.dumps({"detail": "the URL holds a NUL character"}).encode()


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    path: str = scope.get("path", "")
    return b"%00" in query or b"\x00" in query or "\x00" in path


class NulGuardMiddleware:
    """400 ``{"detail": ...}`` for an HTTP request whose path or query string holds NUL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_nul(scope):
            await self.app(scope, receive, send)
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": BODY})
