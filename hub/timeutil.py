"""Time helpers: everything is stored in UTC and shown in the configured zone."""

from __future__ import annotations

from datetime import UTC, datetime
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
