"""A unit's health as the public pages show it: the crawl facts of its sources (when they were last
read, how many fail) and, once a health sweep has run (hub/health/, docs/health.md), the unit's status
(active, slowing, stale, dormant, broken, unreachable), its activity score and the score's breakdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import HealthStatus as SiteStatus
from hub.models import Source, UnitHealthSummary

HealthStatus = Literal["ok", "failing", "never", "no_sources"]


@dataclass(frozen=True, slots=True)
class UnitHealth:
    """What a unit's badge says: ``status`` picks the words, the other fields fill them in."""

    status: HealthStatus
    sources: int = 0  # enabled sources of the unit itself
    failing: int = 0  # of them, those whose latest crawl failed
    worst_failures: int = 0  # the longest run of consecutive failures among them
    last_success_at: datetime | None = None  # newest successful crawl of any of them
    site_status: str | None = None  # the health sweep's status of the unit; None before any sweep
    score: float | None = None  # activity score 0-100 (docs/health.md)
    breakdown: tuple[tuple[str, float | None, float], ...] = ()  # (indicator, points, weight)


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
    summaries = {
        summary.unit_id: summary
        for summary in session.scalars(
            select(UnitHealthSummary).where(UnitHealthSummary.unit_id.in_(unit_ids))
        )
    }
    return {
        unit_id: _with_summary(found.get(unit_id, NO_SOURCES), summaries.get(unit_id)) for unit_id in unit_ids
    }


def _with_summary(health: UnitHealth, summary: UnitHealthSummary | None) -> UnitHealth:
    if summary is None or summary.status == SiteStatus.UNKNOWN.value:
        return health
    breakdown = tuple(
        (name, entry.get("points"), float(entry.get("weight") or 0.0))
        for name, entry in (summary.breakdown or {}).items()
        if isinstance(entry, dict)
    )
    return replace(health, site_status=summary.status, score=summary.score, breakdown=breakdown)
