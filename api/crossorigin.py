"""Refuse cross-site writes to the staff API (docs/architecture.md step 8).

Staff authenticate with HTTP Basic, and browsers re-send cached Basic credentials with requests
that other sites trigger: a hostile page could post a form to ``/api/v1/moderation/...`` and
approve or withdraw items in a moderator's name. A write is therefore refused when the browser
says it comes from another site (``Sec-Fetch-Site``, ``Origin``), or when it has a body type that a
page on another site can send without a CORS preflight (forms and plain text). The staff pages and
API clients send ``application/json``, or no body at all.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import HTTPException, Request, status

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Body types a cross-site <form> or no-cors fetch() may send without asking the server first.
PREFLIGHT_FREE_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})


def _origin_matches(origin: str, host: str | None) -> bool:
    parts = urlsplit(origin)
    return bool(host) and parts.netloc.lower() == (host or "").lower()


def refuse_cross_site_writes(request: Request) -> None:
    """FastAPI dependency: a 403 for a write that another site could have made the browser send."""
    if request.method in SAFE_METHODS:
        return
    headers = request.headers
    fetch_site = headers.get("sec-fetch-site", "").lower()
    origin = headers.get("origin")
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if fetch_site in FOREIGN_FETCH_SITES or (
        origin is not None and origin != "null" and not _origin_matches(origin, headers.get("host"))
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site requests may not change moderation state")
    if origin == "null" or media_type in PREFLIGHT_FREE_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send moderation requests as application/json"
        )
