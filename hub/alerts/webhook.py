"""Alert webhooks: the payload as JSON, POSTed with an HMAC-SHA256 signature of the exact body.

Headers: ``X-Xinlian-Signature: sha256=<hex>`` (key: the webhook's secret), ``X-Xinlian-Event`` and
``X-Xinlian-Delivery`` (the alert's id: a retried delivery repeats it, so a receiver can drop a
duplicate). Webhook URLs come from the operator's settings, not from crawled content; redirects are
not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx

SIGNATURE_HEADER = "X-Xinlian-Signature"


@dataclass(frozen=True, slots=True)
class Posted:
    """How a POST went: ``ok`` on a 2xx; ``retry`` False when trying again cannot help."""

    ok: bool
    retry: bool
    detail: str


def signature(secret: str, body: bytes) -> str:
    """The X-Xinlian-Signature value of ``body``: ``sha256=`` + hex HMAC-SHA256 with ``secret``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def body_of(alert_id: int, payload: dict[str, Any]) -> bytes:
    """The JSON body of an alert: its payload plus its delivery id, UTF-8, keys sorted."""
    document = {"delivery_id": alert_id, **payload}
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")


def post(client: httpx.Client, url: str, secret: str, alert_id: int, event: str, body: bytes) -> Posted:
    """POST ``body`` to ``url``, signed; 5xx, 408, 429 and network errors are worth another try."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: signature(secret, body),
        "X-Xinlian-Event": event,
        "X-Xinlian-Delivery": str(alert_id),
    }
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Posted(False, True, f"{exc.__class__.__name__}: {exc}")
    status = response.status_code
    if 200 <= status < 300:
        return Posted(True, False, f"HTTP {status}")
    # A 4xx other than 408/429 says the receiver refuses this body; retrying is still cheap and the
    # receiver may be fixed (a rotated secret), so only the attempts cap ends it.
    return Posted(False, True, f"HTTP {status}")
