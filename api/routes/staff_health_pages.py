"""A source's and a unit's page under /staff/health (docs/health.md "Dashboard", architecture step 8).

A source's page has its status and signals, the homepage probe, its status timeline and a chart of items
per week; a unit's page its score breakdown, rank in level and monthly trend. The table and exports
they are reached from are api/routes/staff_health.py, whose router settings and page helper they share.
Admins and moderators get "crawl now", which calls the staff sources API's route from a form, so its
checks are the API's.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Staff, StaffAuthDep
from api.clock import ClockDep
from api.deps import SessionDep, SettingsDep
from api.health_chart import Chart, bar_chart
from api.params import RowId
from api.routes.staff_health import (
    CHART_WEEKS,
    STATUSES,
    TREND_MONTHS,
    health_page,
    health_router,
    with_reason_data,
)
from api.routes.staff_sources import CRAWL_OUTCOMES, MAY_CRAWL_NOW, crawl_now_outcome
from hub.health.events import history
from hub.health.report import (
    items_per_week,
    level_ranks,
    score_trend,
    scored_peers,
    source_report,
    unit_report,
)
from hub.models import Source, SourceHealth, Unit, UnitHealthSummary
from hub.settings import Settings
from hub.timeutil import to_zone

router = health_router()


def _history_rows(session: Session, settings: Settings, **subject: Any) -> list[dict[str, Any]]:
    return [
        {
            "at": to_zone(event.at, settings.timezone).strftime("%Y-%m-%d %H:%M"),
            "iso": event.at.isoformat(),
            "from_status": event.from_status,
            "to_status": event.to_status,
            "reason": event.reason,
            "reason_data": event.reason_data,
        }
        for event in history(session, limit=100, **subject)
    ]


def _weekly(session: Session, settings: Settings, now: datetime, **owner: Any) -> Chart:
    weeks = items_per_week(session, now, weeks=CHART_WEEKS, **owner)
    return bar_chart([(to_zone(start, settings.timezone).strftime("%m-%d"), count) for start, count in weeks])


@router.get("/sources/{source_id}", name="staff_health_source")
def source_page(
    request: Request,
    source_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    user: Staff,
    clock: ClockDep,
) -> HTMLResponse:
    """One source: status and signals, the homepage probe, its status timeline, items per week."""
    now = clock()
    source = session.get(Source, source_id)
    if source is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no source {source_id}")
    unit = source.unit
    rows = source_report(session, now, settings.timezone, settings.health.tls_warn_days, unit.slug)
    row = next((record for record in rows.records() if record["source_id"] == source_id), None)
    if row is not None:
        [row] = with_reason_data(session, "sources", [row])
    health = session.get(SourceHealth, source_id)
    crawl = request.query_params.get("crawl")
    return health_page(
        request,
        user,
        "staff/health_source.html",
        {
            "source": source,
            "unit": unit,
            "row": row,
            "redirects": (health.redirects if health else None) or [],
            "probe_message": health.probe_message if health else None,
            "probe_error": health.probe_error_kind if health else None,
            "tls_warn_days": settings.health.tls_warn_days,
            "events": _history_rows(session, settings, source_id=source_id),
            "chart": _weekly(session, settings, now, source_id=source_id),
            "may_crawl": user.role in MAY_CRAWL_NOW and source.enabled,
            "crawl_outcome": crawl if crawl in CRAWL_OUTCOMES else None,
            "paused_at": source.paused_at,
            "next_check_at": source.next_check_at,
        },
    )


@router.post("/sources/{source_id}/crawl-now", name="staff_health_crawl_now")
def crawl_now_form(
    request: Request,
    source_id: RowId,
    auth: StaffAuthDep,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> RedirectResponse:
    """The source page's "crawl now" button: the staff sources API's crawl-now, answered with a redirect
    back to the page saying what happened."""
    outcome = crawl_now_outcome(source_id, auth, session, settings, clock)
    target = request.app.url_path_for("staff_health_source", source_id=source_id)
    return RedirectResponse(f"{target}?crawl={outcome}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/units/{slug}", name="staff_health_unit")
def unit_page(
    request: Request,
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    user: Staff,
    clock: ClockDep,
) -> HTMLResponse:
    """One unit: status, score breakdown, rank in level, monthly trend, its sources, the units below."""
    now = clock()
    unit = session.scalar(select(Unit).where(Unit.slug == slug))
    if unit is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no unit {slug!r}")
    health = session.get(UnitHealthSummary, unit.id)
    ranks = level_ranks(session)
    peers = scored_peers(session, unit.level)
    below = Counter(
        str(record["status"])
        for record in unit_report(session, settings.timezone, slug).records()
        if record["unit"] != slug
    )
    sources = with_reason_data(
        session,
        "sources",
        [
            record
            for record in source_report(
                session, now, settings.timezone, settings.health.tls_warn_days, slug
            ).records()
            if record["unit"] == slug
        ],
    )
    trend = score_trend(session, unit.id, TREND_MONTHS)
    return health_page(
        request,
        user,
        "staff/health_unit.html",
        {
            "unit": unit,
            "health": health,
            "breakdown": (health.breakdown if health else None) or {},
            "rank": ranks.get(unit.id),
            "peers": peers,
            "below": {value: below.get(value, 0) for value in STATUSES if below.get(value)},
            "sources": sources,
            "trend": trend,
            "trend_chart": bar_chart([(month, score) for month, score in trend], top=100.0),
            "chart": _weekly(session, settings, now, unit_id=unit.id),
            "events": _history_rows(session, settings, unit_id=unit.id),
        },
    )
