"""Time helpers: everything is stored in UTC and shown in the configured zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime, assume_zone: str = "Asia/Shanghai") -> datetime:
    """``value`` in UTC; a naive value is taken to be in ``assume_zone`` (how Chinese sites print dates)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(assume_zone))
    return value.astimezone(UTC)


def to_zone(value: datetime, zone: str) -> datetime:
    """``value`` (aware, or naive UTC) shown in ``zone``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(zone))


def doubling_backoff(attempts: int, base_s: float, max_s: float) -> timedelta:
    """Wait after the ``attempts``-th failure of a retried job: ``base_s``, doubled per further
    failure, capped at ``max_s`` (outbox drains, WebSub hub deliveries, alerts)."""
    return timedelta(seconds=min(base_s * 2 ** max(attempts - 1, 0), max_s))
