"""Conditional GET for our feeds and widgets: strong ETag, Last-Modified, 304 without a body.

If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2). The ETag covers every
entry shown (id and version), so a withdrawn or edited item changes it even when the newest item
stays the same; Last-Modified is the newest entry's change, which a withdrawal cannot move forward,
so clients that send only If-Modified-Since see a withdrawal at the next new item (or max-age).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Response


@dataclass(frozen=True, slots=True)
class Validators:
    """What a client may revalidate with: the strong ETag and the time of the newest change."""

    etag: str  # quoted, e.g. "3f2a..."
    last_modified: datetime | None


def strong_etag(parts: Iterable[object]) -> str:
    """A quoted strong ETag over ``parts`` (their text joined by a separator no part contains)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8")).hexdigest()
    return f'"{digest[:32]}"'


def _etag_listed(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    # If-None-Match compares weakly: W/"x" matches "x" (RFC 9110 8.8.3.2).
    listed = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in listed


def _modified_since(header: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return True  # an unreadable date is ignored: send the document
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) > since


def is_not_modified(headers: Mapping[str, str], validators: Validators) -> bool:
    """True when the client's copy is current and a 304 is the answer."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return _etag_listed(if_none_match, validators.etag)
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since and validators.last_modified is not None:
        return not _modified_since(if_modified_since, validators.last_modified)
    return False


def cache_headers(validators: Validators, max_age: int) -> dict[str, str]:
    """ETag, Last-Modified and public caching for ``max_age`` seconds."""
    headers = {"ETag": validators.etag, "Cache-Control": f"public, max-age={max_age}"}
    if validators.last_modified is not None:
        headers["Last-Modified"] = format_datetime(validators.last_modified.astimezone(UTC), usegmt=True)
    return headers


def conditional_response(
    request_headers: Mapping[str, str],
    validators: Validators,
    max_age: int,
    build: Callable[[], Response],
    extra_headers: Mapping[str, str] | None = None,
) -> Response:
    """A 304 with the validators when the client's copy is current, else ``build()`` with them."""
    headers = {**cache_headers(validators, max_age), **(extra_headers or {})}
    if is_not_modified(request_headers, validators):
        return Response(status_code=304, headers=headers)
    response = build()
    response.headers.update(headers)
    return response
