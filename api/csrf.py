"""CSRF protection for cookie-authenticated staff requests (docs/architecture.md step 8).

A browser sends the session cookie with requests another site makes it send, so every state-changing
request that is authenticated by the cookie must also carry the session's CSRF token: staff forms in
a hidden ``csrf_token`` field, ``static/staff.js`` in the ``X-CSRF-Token`` header (``api/auth.py``
checks both). HTTP Basic and bearer-token requests carry their credentials explicitly and need none.
The sign-in form has no session yet: it uses a double-submit token, a random value in a signed,
short-lived cookie that the form must repeat (so another site cannot sign a browser in to an account
of its choosing). SameSite=Lax cookies and ``api/crossorigin.py`` stay as further layers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOGIN_COOKIE = "xinlian_login"
LOGIN_TOKEN_MAX_AGE_S = 3600  # a sign-in form older than this asks to be reloaded
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def is_form(request: Request) -> bool:
    """Whether the request body is an HTML form."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type in FORM_TYPES


async def form_token(request: Request) -> str | None:
    """The ``csrf_token`` field of a posted form (Starlette caches the parsed form for the route)."""
    if request.method in SAFE_METHODS or not is_form(request):
        return None
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def from_other_site(request: Request) -> bool:
    """Whether the browser says another site made this request (Sec-Fetch-Site, Origin)."""
    if request.headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


def _login_signer(secret_key: str) -> TimestampSigner:
    return TimestampSigner(secret_key, salt="xinlian.login-form", digest_method=hashlib.sha256)


def new_login_token(secret_key: str) -> tuple[str, str]:
    """A sign-in form token: (signed cookie value, value for the form's hidden field)."""
    value = secrets.token_urlsafe(32)
    return _login_signer(secret_key).sign(value).decode("ascii"), value


def login_token_ok(secret_key: str, cookie: str | None, given: str | None) -> bool:
    """Whether the form repeats the value of its signed, fresh cookie."""
    if not cookie or not given:
        return False
    try:
        value = _login_signer(secret_key).unsign(cookie, max_age=LOGIN_TOKEN_MAX_AGE_S).decode("ascii")
    except (BadSignature, SignatureExpired, UnicodeError):
        return False
    return tokens_match(value, given)
