"""The staff health API under /api/v1/health: the admin dashboard's data as JSON (docs/health.md).

The same functions as /staff/health answer it: the table is ``filtered_report`` with the dashboard's
filters (unit, status, level, kind, q, sort), a unit's and a source's details are the rows, history,
trend and weekly counts of ``hub/health``. Any signed-in staff member may read it.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from sqlalchemy.orm import Session

from api.auth import Staff
from api.clock import ClockDep
from api.deps import SessionDep, SettingsDep
from api.health_schemas import (
    HealthEventOut,
    HealthListOut,
    IndicatorOut,
    MonthScoreOut,
    RedirectOut,
    SourceHealthOut,
    SourceHealthRow,
    UnitHealthOut,
    UnitHealthRow,
    WeekCountOut,
)
from api.paging import LimitParam, page_count
from api.params import RowId
from api.routes.staff_health import CHART_WEEKS, TREND_MONTHS, FiltersDep, filtered_report
from api.schemas import UnitRef
from api.strictquery import refuse_unknown_query
from api.unit_queries import find_unit
from hub.health.events import history
from hub.health.report import (
    items_per_week,
    level_ranks,
    score_trend,
    scored_peers,
    source_report,
    status_counts,
    unit_report,
)
from hub.models import HealthEvent, Source, SourceHealth, UnitHealthSummary

router = APIRouter(prefix="/api/v1/health", tags=["staff"], dependencies=[Depends(refuse_unknown_query)])

HISTORY = 100  # status changes listed, newest first (as the staff pages)
UnitKey = Annotated[str, Path(min_length=1, max_length=64, description="The unit's slug or id.")]


@router.get("", response_model=HealthListOut)
def health_list(
    session: SessionDep,
    settings: SettingsDep,
    user: Staff,
    clock: ClockDep,
    filters: FiltersDep,
    limit: LimitParam = None,
) -> HealthListOut:
    """Sources (``view=sources``) or units with their status, score, last new item and failures,
    filtered and sorted as on /staff/health; 404 if ``unit`` names no unit."""
    try:
        records = filtered_report(session, settings, clock(), filters).records()
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    size = limit or settings.web.page_size
    shown = records[(filters.page - 1) * size : filters.page * size]
    items: list[SourceHealthRow] | list[UnitHealthRow]
    if filters.view == "units":
        items = [UnitHealthRow.model_validate(record) for record in shown]
    else:
        items = [SourceHealthRow.model_validate(record) for record in shown]
    return HealthListOut(
        view=filters.view,
        total=len(records),
        page=filters.page,
        page_size=size,
        pages=page_count(len(records), size),
        counts=status_counts(session, filters.view),
        items=items,
    )


def _events(events: list[HealthEvent]) -> list[HealthEventOut]:
    return [
        HealthEventOut(at=e.at, from_status=e.from_status, to_status=e.to_status, reason=e.reason)
        for e in events
    ]


def _weeks(session: Session, now: Any, **owner: int) -> list[WeekCountOut]:
    return [
        WeekCountOut(week_start=start, count=count)
        for start, count in items_per_week(session, now, weeks=CHART_WEEKS, **owner)
    ]


def _indicator(entry: Any) -> IndicatorOut:
    entry = entry if isinstance(entry, dict) else {}
    detail = entry.get("detail")
    return IndicatorOut(
        value=entry.get("value"),
        weight=float(entry.get("weight") or 0.0),
        points=entry.get("points"),
        detail=str(detail) if detail is not None else None,
    )


@router.get("/units/{unit}", response_model=UnitHealthOut)
def unit_health_detail(
    unit: UnitKey, session: SessionDep, settings: SettingsDep, user: Staff, clock: ClockDep
) -> UnitHealthOut:
    """A unit: status, score breakdown, rank in its level, monthly trend, its sources' rows, the
    statuses of the units below it, items per week and its status history."""
    found = find_unit(session, unit.strip())
    if found is None:
        raise HTTPException(status_code=404, detail="no such unit")
    now = clock()
    health = session.get(UnitHealthSummary, found.id)
    below = Counter(
        str(record["status"])
        for record in unit_report(session, settings.timezone, found.slug).records()
        if record["unit"] != found.slug
    )
    sources = source_report(session, now, settings.timezone, settings.health.tls_warn_days, found.slug)
    breakdown = (health.breakdown if health else None) or {}
    counts = (health.source_counts if health else None) or {}
    trend = score_trend(session, found.id, TREND_MONTHS)
    return UnitHealthOut(
        unit=UnitRef(id=found.id, name=found.name, slug=found.slug),
        level=found.level,
        status=health.status if health else None,
        reason=health.reason if health else None,
        status_since=health.status_since if health else None,
        computed_at=health.computed_at if health else None,
        score=health.score if health else None,
        rank_in_level=level_ranks(session).get(found.id),
        peers=scored_peers(session, found.level),
        breakdown={name: _indicator(entry) for name, entry in breakdown.items()},
        source_counts={str(name): int(count) for name, count in counts.items()},
        below=dict(sorted(below.items())),
        sources=[
            SourceHealthRow.model_validate(record)
            for record in sources.records()
            if record["unit"] == found.slug
        ],
        trend=[MonthScoreOut(month=month, score=score) for month, score in trend],
        items_per_week=_weeks(session, now, unit_id=found.id),
        history=_events(history(session, unit_id=found.id, limit=HISTORY)),
    )


@router.get("/sources/{source_id}", response_model=SourceHealthOut)
def source_health_detail(
    source_id: RowId, session: SessionDep, settings: SettingsDep, user: Staff, clock: ClockDep
) -> SourceHealthOut:
    """A source: its signals (the report's row), the homepage probe, its status timeline and items
    per week."""
    source = session.get(Source, source_id)
    if source is None:
        raise HTTPException(status_code=404, detail=f"no source {source_id}")
    now = clock()
    unit = source.unit
    rows = source_report(session, now, settings.timezone, settings.health.tls_warn_days, unit.slug)
    row = next((record for record in rows.records() if record["source_id"] == source_id), None)
    health = session.get(SourceHealth, source_id)
    hops = (health.redirects if health else None) or []
    return SourceHealthOut(
        id=source.id,
        name=source.name,
        kind=source.kind,
        url=source.url,
        enabled=source.enabled,
        unit=UnitRef(id=unit.id, name=unit.name, slug=unit.slug),
        signals=SourceHealthRow.model_validate(row) if row is not None else None,
        probe_message=health.probe_message if health else None,
        probe_error_kind=health.probe_error_kind if health else None,
        redirects=[_redirect(hop) for hop in hops if isinstance(hop, dict)],
        paused_at=source.paused_at,
        next_check_at=source.next_check_at,
        history=_events(history(session, source_id=source_id, limit=HISTORY)),
        items_per_week=_weeks(session, now, source_id=source_id),
    )


def _redirect(hop: dict[str, Any]) -> RedirectOut:
    status = hop.get("status")
    to = hop.get("to")
    return RedirectOut(
        status=status if isinstance(status, int) else None,
        url=str(hop.get("url") or ""),
        to=str(to) if to is not None else None,
    )
