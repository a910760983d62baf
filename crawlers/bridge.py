"""Weibo and WeChat accounts behind an RSSHub-compatible bridge (docs/architecture.md step 4).

A registry entry may name an account without a URL (``kind: account, platform: weibo, account: "123"``);
it is stored as ``bridge://weibo/123`` and turned into a bridge route at crawl time, so changing the
bridge's base URL or key needs no re-import. The access key travels as ``?key=`` (RSSHub's
ACCESS_KEY) and is scrubbed from anything we log or record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

from hub.accounturl import ACCOUNT_URL_PREFIX
from hub.settings import BridgeSettings
from hub.wholenumber import whole_number

# RSSHub routes per platform: /weibo/user/<uid>, /wechat/mp/<biz id>.
ROUTES = {"weibo": "weibo/user", "wechat": "wechat/mp"}


class BridgeNotConfigured(ValueError):
    """An account source without a URL, but no bridge base URL is set."""


def is_placeholder(url: str) -> bool:
    """True for ``bridge://platform/account`` URLs."""
    return url.startswith(ACCOUNT_URL_PREFIX)


def route_url(url: str, bridge: BridgeSettings) -> str:
    """The URL to fetch: a placeholder becomes the bridge route (with the key); other URLs are kept."""
    if not is_placeholder(url):
        return url
    if not bridge.base_url:
        raise BridgeNotConfigured("account source needs bridge.base_url (no bridge configured)")
    parts = urlsplit(url)
    platform, account = parts.hostname or "", parts.path.lstrip("/")
    if platform not in ROUTES:
        raise ValueError(f"unknown account platform {platform!r}")
    route = f"{bridge.base_url.rstrip('/')}/{ROUTES[platform]}/{account}"
    key = bridge.access_key.get_secret_value()
    return f"{route}?key={quote(key, safe='')}" if key else route


def redact(text: str, bridge: BridgeSettings) -> str:
    """``text`` with the bridge access key masked (messages, logs)."""
    key = bridge.access_key.get_secret_value()
    if not key:
        return text
    return text.replace(quote(key, safe=""), "***").replace(key, "***")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    seconds = whole_number(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
