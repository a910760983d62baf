"""Our WebSub hub's requests to subscribers: verification of intent and signed content deliveries.

Every callback URL passes ``guard`` first (the crawler's private-address check, given by the caller:
a subscriber must not make our worker call into our own network), and redirects are not followed,
so the address checked is the address called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import httpx

from hub.websubhub import DeliveryRequest, IntentRequest, sign

MAX_ANSWER_BYTES = 4096  # a challenge echo is short; nothing more of the answer is read


class CallbackRefused(ValueError):
    """The callback URL is not one we may call (not http(s), or a private address not allow-listed)."""


Guard = Callable[[str], None]  # raises CallbackRefused


@dataclass(frozen=True, slots=True)
class Verification:
    """How a verification went: confirmed, refused by the subscriber, or worth another try."""

    confirmed: bool
    retry: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Sent:
    """How a delivery went: ``ok`` on a 2xx; ``status`` None when no answer came."""

    ok: bool
    status: int | None
    detail: str


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended to any query it already has (callbacks may carry their own)."""
    joiner = "&" if urlsplit(url).query else "?"
    return url + joiner + urlencode(params)


def _read_limited(response: httpx.Response) -> bytes:
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            break
    return body[:MAX_ANSWER_BYTES]


def verify(client: httpx.Client, guard: Guard, request: IntentRequest, challenge: str) -> Verification:
    """GET the callback with ``hub.challenge``; confirmed only by a 2xx that echoes the challenge."""
    try:
        guard(request.callback)
    except CallbackRefused as exc:
        return Verification(False, False, str(exc))
    params = {"hub.mode": request.mode, "hub.topic": request.topic, "hub.challenge": challenge}
    if request.mode == "subscribe":
        params["hub.lease_seconds"] = str(request.lease_seconds)
    try:
        with client.stream("GET", with_query(request.callback, params)) as response:
            body = _read_limited(response)
    except httpx.HTTPError as exc:
        return Verification(False, True, f"{exc.__class__.__name__}: {exc}")
    if response.status_code >= 500 or response.status_code == 429:
        return Verification(False, True, f"HTTP {response.status_code}")
    if not 200 <= response.status_code < 300:
        return Verification(False, False, f"HTTP {response.status_code}")
    if body.decode("utf-8", "replace").strip() != challenge:
        return Verification(False, False, "the callback did not echo hub.challenge")
    return Verification(True, False, "confirmed")


def deliver(
    client: httpx.Client, guard: Guard, request: DeliveryRequest, body: bytes, media_type: str, links: str
) -> Sent:
    """POST the feed to the subscriber, signed with its secret (``X-Hub-Signature: sha256=…``)."""
    try:
        guard(request.callback)
    except CallbackRefused as exc:
        return Sent(False, None, str(exc))
    headers = {"Content-Type": media_type, "Link": links}
    if request.secret:
        headers["X-Hub-Signature"] = sign(request.secret, body)
    try:
        with client.stream("POST", request.callback, content=body, headers=headers) as response:
            status = response.status_code  # the answer's body is of no interest
    except httpx.HTTPError as exc:
        return Sent(False, None, f"{exc.__class__.__name__}: {exc}")
    if 200 <= status < 300:
        return Sent(True, status, "delivered")
    return Sent(False, status, f"HTTP {status}")
