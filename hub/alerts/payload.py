"""What an alert says, as plain JSON (the webhook body, and what the e-mail text is made from)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.health.events import HealthChange
from hub.models import Source, Unit
from hub.secreturl import masked_url

FAILING, RECOVERED, DIGEST, TEST = "failing", "recovered", "digest", "test"
# The schedule paused crawling the source (hub/schedule/hooks.py records it as scheduled -> paused).
PAUSED = "paused"
SCHEDULE_PAUSED, SCHEDULE_RUNNING = "paused", "scheduled"
# Statuses that mean the source cannot be read (alert), and those that mean it can again (recovery).
FAILING_STATUSES = frozenset({"broken", "unreachable"})
READABLE_STATUSES = frozenset({"active", "slowing", "stale", "dormant"})


def event_of(change: HealthChange) -> str | None:
    """FAILING when a source became unreadable, RECOVERED when it became readable again, else None.

    A first classification is not a change anyone was told about, so it alerts nothing (the first sweep
    of a deployment would otherwise send one alert per broken source); the weekly digest lists them.
    Broken <-> unreachable is the same trouble with another face: no new alert either. A pause of the
    schedule (after failing for ``schedule.pause_after_days``) is PAUSED: crawling has stopped.
    """
    if change.subject != "source" or change.first:
        return None
    if change.to_status == SCHEDULE_PAUSED:
        return PAUSED
    if change.from_status not in FAILING_STATUSES and change.to_status in FAILING_STATUSES:
        return FAILING
    if change.from_status in FAILING_STATUSES and change.to_status in READABLE_STATUSES:
        return RECOVERED
    return None


def is_resumption(change: HealthChange) -> bool:
    """The schedule resumed crawling a paused source (no alert: it undoes a pause)."""
    return change.subject == "source" and change.from_status == SCHEDULE_PAUSED


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 text (None stays None)."""
    return value.isoformat() if value is not None else None


def unit_part(unit: Unit) -> dict[str, Any]:
    """The unit as an alert names it."""
    return {"id": unit.id, "slug": unit.slug, "name": unit.name, "level": unit.level}


def source_alert(
    event: str, change: HealthChange, source: Source, unit: Unit, base_url: str
) -> dict[str, Any]:
    """The payload of a failure or recovery alert."""
    return {
        "event": event,
        "at": iso(change.at),
        "status": change.to_status,
        "from_status": change.from_status,
        "reason": change.reason,
        "source": {"id": source.id, "name": source.name, "kind": source.kind, "url": masked_url(source.url)},
        "unit": unit_part(unit),
        "consecutive_failures": source.consecutive_failures,
        "last_error_kind": source.last_error_kind,
        "failing_since": iso(source.failing_since),
        "dashboard_url": f"{base_url.rstrip('/')}/staff/health/sources/{source.id}",
    }


def sample_alert(now: datetime, base_url: str) -> dict[str, Any]:
    """The payload of ``xinlian alerts test``."""
    return {"event": TEST, "at": iso(now), "dashboard_url": f"{base_url.rstrip('/')}/staff/health"}
