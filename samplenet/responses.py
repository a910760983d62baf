"""HTTP details real sites have: ETag and Last-Modified with 304 on conditional requests."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response

from samplenet.rendercache import etag_of


def conditional(
    request: Request, body: bytes, content_type: str, last_modified: datetime | None, etag: str | None = None
) -> Response:
    """``body`` with validators, or an empty 304 when the client's validators still match; ``etag``
    when the caller has it already (samplenet/rendercache.py)."""
    etag = etag or etag_of(body)
    headers = {"ETag": etag}
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified.astimezone(UTC), usegmt=True)
    if _not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(body, headers={**headers, "Content-Type": content_type})


def _not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    # If-None-Match wins over If-Modified-Since (RFC 9110 section 13.2.2).
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since is None or last_modified is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False  # an unparseable date is ignored, as servers do
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= when
