"""A unit's crawl health as the public pages show it: a neutral badge from what the store knows today.

Facts only, no verdict: when the unit's sources were last crawled successfully and how many of them
failed their latest crawls in a row (``hub.models.Source`` counters, step 9 of docs/architecture.md).
Issue 7 computes real statuses (stale, broken, inactive) and replaces ``unit_health`` behind the same
``UnitHealth`` shape; templates read only ``status`` and the fields below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Source

HealthStatus = Literal["ok", "failing", "never", "no_sources"]


@dataclass(frozen=True, slots=True)
class UnitHealth:
    """What a unit's badge says: ``status`` picks the words, the other fields fill them in."""

    status: HealthStatus
    sources: int = 0  # enabled sources of the unit itself
    failing: int = 0  # of them, those whose latest crawl failed
    worst_failures: int = 0  # the longest run of consecutive failures among them
    last_success_at: datetime | None = None  # newest successful crawl of any of them


NO_SOURCES = UnitHealth("no_sources")


def _status(sources: int, failing: int, last_success_at: datetime | None) -> HealthStatus:
    if sources == 0:
        return "no_sources"
    if failing:
        return "failing"
    return "ok" if last_success_at is not None else "never"


def unit_health(session: Session, unit_ids: Sequence[int]) -> dict[int, UnitHealth]:
    """The badge of every unit of ``unit_ids`` from its enabled sources (one grouped query)."""
    if not unit_ids:
        return {}
    rows = session.execute(
        select(
            Source.unit_id,
            func.count(Source.id),
            func.count(Source.id).filter(Source.consecutive_failures > 0),
            func.max(Source.consecutive_failures),
            func.max(Source.last_success_at),
        )
        .where(Source.enabled.is_(True), Source.unit_id.in_(list(unit_ids)))
        .group_by(Source.unit_id)
    ).all()
    found = {
        unit_id: UnitHealth(_status(total, failing, last), total, failing, worst or 0, last)
        for unit_id, total, failing, worst, last in rows
    }
    return {unit_id: found.get(unit_id, NO_SOURCES) for unit_id in unit_ids}
