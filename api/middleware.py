"""The portal's language choice and security headers as pure ASGI middlewares (docs/architecture.md step 8).

They were ``@app.middleware("http")`` functions, i.e. BaseHTTPMiddleware: each runs the rest of the
app in a separate task and passes the response through a memory stream, which cost the public search
~0.3 ms of CPU per request each (py-spy on one uvicorn worker). These do the same work on the ASGI
messages instead.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders, QueryParams
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.i18n import LANG_COOKIE, choose_language, normalize_language
from hub.settings import Settings

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600

# Everything is served from here: no CDN. Images inside notices come from the units' own sites.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' http: https: data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)


def _query_lang(query_string: bytes) -> str | None:
    """The first ``lang=`` of the query string, as ``request.query_params.get("lang")`` reads it."""
    if b"lang=" not in query_string:  # nearly every request: no parsing at all
        return None
    return QueryParams(query_string).get("lang")


def _cookie_header(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return str(value.decode("latin-1"))
    return ""


def _lang_cookie(language: str) -> bytes:
    """The Set-Cookie value remembering ``language``, exactly as ``Response.set_cookie`` writes it."""
    response = Response()
    response.set_cookie(LANG_COOKIE, language, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", httponly=True)
    return response.raw_headers[-1][1]


class LanguageMiddleware:
    """Pick the language of this request (``request.state.language``); ``?lang=`` also remembers the
    choice in a cookie."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.default = settings.web.language

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = normalize_language(_query_lang(scope.get("query_string", b"")))
        header = _cookie_header(scope)
        remembered = cookie_parser(header).get(LANG_COOKIE) if header else None
        scope.setdefault("state", {})["language"] = choose_language(asked, remembered, self.default)
        if asked is None or asked == remembered:
            await self.app(scope, receive, send)
            return
        cookie = _lang_cookie(asked)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class SecurityHeadersMiddleware:
    """Headers that keep republished, untrusted content in its place (a route's own value wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                message = {**message, "headers": headers.raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)
