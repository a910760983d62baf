"""The admin health dashboard under /staff/health (docs/health.md "Dashboard", architecture step 8).

Server-rendered views of ``hub/health/report.py``: the tables are the rows of ``xinlian health report``
(by source or by unit) filtered, sorted and paged here, with every filter in the URL; the exports are
those rows as CSV and XLSX (``to_csv``, ``write_xlsx``). The tree roll-up is ``rollup_counts``. A
source's and a unit's own page are ``routes/staff_health_pages.py``, which shares this module's router
settings (``health_router``) and page helper (``health_page``). Any signed-in staff member may look.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Staff
from api.clock import ClockDep
from api.csrf import from_other_site
from api.deps import SessionDep, SettingsDep, get_translator
from api.rendering import render
from api.staff_i18n import staff_translator
from hub.health.report import (
    Report,
    Value,
    rollup_counts,
    source_report,
    status_counts,
    to_csv,
    unit_report,
    write_xlsx,
)
from hub.models import (
    HealthEvent,
    HealthStatus,
    Role,
    SourceHealth,
    SourceKind,
    Unit,
    UnitHealthSummary,
    UnitLevel,
    User,
)
from hub.schedule.hooks import PAUSED
from hub.settings import Settings
from hub.timeutil import to_zone

PAGE_SIZE = 100
CHART_WEEKS = 12
TREND_MONTHS = 12
STATUSES = [status.value for status in HealthStatus]
# Table columns on the page (the exports carry every column of the report).
SOURCE_TABLE = (
    "source",
    "unit_name",
    "level",
    "status",
    "last_new_item",
    "rate_4w",
    "rate_12w",
    "http_status",
    "latency_ms",
    "tls_days_left",
    "consecutive_failures",
    "paused_at",
)
UNIT_TABLE = (
    "unit_name",
    "level",
    "status",
    "score",
    "rank_in_level",
    "frequency",
    "timeliness",
    "originality",
    "availability",
    "moderation",
    "sources",
)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def refuse_other_sites(request: Request) -> None:
    """A 403 for a form another site made the browser post (cached Basic credentials need no token)."""
    if request.method == "POST" and from_other_site(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site requests may not crawl sources")


def health_router() -> APIRouter:
    """A router for pages under /staff/health (this module's, and staff_health_pages.py's)."""
    return APIRouter(
        prefix="/staff/health",
        tags=["staff"],
        default_response_class=HTMLResponse,
        dependencies=[Depends(refuse_other_sites)],
    )


router = health_router()


@dataclass(slots=True)
class Filters:
    """The dashboard's filters, sort and page: all of them in the URL."""

    view: Literal["sources", "units"] = "sources"
    unit: str | None = None
    status: list[str] = field(default_factory=list)
    level: str | None = None
    kind: str | None = None
    q: str | None = None
    sort: str | None = None
    order: Literal["asc", "desc"] = "asc"
    page: int = 1
    paused: bool = False  # sources only: those the schedule paused

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """Query parameters of these filters with ``changes``, empty ones left out (page 1 too)."""
        values = {
            "view": self.view,
            "unit": self.unit,
            "status": self.status,
            "level": self.level,
            "kind": self.kind,
            "q": self.q,
            "paused": "1" if self.paused else None,
            "sort": self.sort,
            "order": self.order if self.sort else None,
            "page": self.page,
            **changes,
        }
        pairs: list[tuple[str, str]] = []
        for name, value in values.items():
            if name == "page" and value == 1:
                continue
            for item in value if isinstance(value, list) else [value]:
                if item not in (None, ""):
                    pairs.append((name, str(item)))
        return pairs

    def query(self, **changes: Any) -> str:
        """The URL query of these filters with ``changes``."""
        return urlencode(self.params(**changes))

    def sort_query(self, column: str) -> str:
        """The query that sorts by ``column``: ascending first, then the other way (page 1)."""
        order = "desc" if self.sort == column and self.order == "asc" else "asc"
        return self.query(sort=column, order=order, page=1)


def filtered_report(session: Session, settings: Settings, now: datetime, filters: Filters) -> Report:
    """The report rows the filters select, sorted as asked (LookupError: unknown unit).

    Unit and status select exactly as ``xinlian health report --unit --status`` does; level, kind
    and the text search narrow those rows further, and a sort replaces the tree order.
    """
    if filters.view == "units":
        report = unit_report(session, settings.timezone, filters.unit, filters.status)
    else:
        report = source_report(
            session, now, settings.timezone, settings.health.tls_warn_days, filters.unit, filters.status
        )
    column = {name: index for index, name in enumerate(report.columns)}
    rows = report.rows
    if filters.level:
        rows = [row for row in rows if row[column["level"]] == filters.level]
    if filters.kind and "kind" in column:
        rows = [row for row in rows if row[column["kind"]] == filters.kind]
    if filters.paused and "paused_at" in column:
        rows = [row for row in rows if row[column["paused_at"]] is not None]
    if filters.q:
        needle = filters.q.casefold()
        searched = [column[name] for name in ("unit", "unit_name", "source", "url") if name in column]
        rows = [row for row in rows if any(needle in str(row[i] or "").casefold() for i in searched)]
    if filters.sort in column:
        at = column[filters.sort]
        present = sorted((row for row in rows if row[at] is not None), key=lambda row: _key(row[at]))
        if filters.order == "desc":
            present.reverse()
        rows = present + [row for row in rows if row[at] is None]  # blanks last either way
    return Report(report.columns, list(rows))


def _key(value: Value) -> tuple[int, float | str]:
    if isinstance(value, bool | int | float):
        return (0, float(value))
    return (1, str(value))


def with_reason_data(session: Session, view: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` with their stored reason's key and values (``reason_data``), which the pages word in
    the reader's language; the report itself (exports, API, CLI) keeps the English sentence only."""
    if view == "units":
        key = "unit"
        query = (
            select(Unit.slug, UnitHealthSummary.reason_data)
            .join(UnitHealthSummary, UnitHealthSummary.unit_id == Unit.id)
            .where(Unit.slug.in_([record[key] for record in records]))
        )
    else:
        key = "source_id"
        query = select(SourceHealth.source_id, SourceHealth.reason_data).where(
            SourceHealth.source_id.in_([record[key] for record in records])
        )
    found: dict[Any, Any] = {owner: data for owner, data in session.execute(query)}
    records = [{**record, "reason_data": found.get(record[key])} for record in records]
    if view == "units":
        return records
    # A paused source's reason is the one its latest pause event holds (hub/schedule/hooks.py).
    paused = [record[key] for record in records if record.get("paused_at") is not None]
    pauses: dict[int, Any] = {}
    if paused:
        events = (
            select(HealthEvent.source_id, HealthEvent.reason_data)
            .where(HealthEvent.source_id.in_(paused), HealthEvent.to_status == PAUSED)
            .order_by(HealthEvent.at, HealthEvent.id)
        )
        pauses = {source_id: data for source_id, data in session.execute(events)}  # the latest wins
    return [{**record, "pause_reason_data": pauses.get(record[key])} for record in records]


def health_page(request: Request, user: User, template: str, context: dict[str, Any]) -> HTMLResponse:
    """Render a staff page that no cache keeps and no robot indexes."""
    t = staff_translator(get_translator(request).language)
    response = render(
        request,
        template,
        {
            "t": t,
            "user": user,
            "can_decide": user.role != Role.VIEWER.value,
            "api_base": "/api/v1/moderation",
            "state_labels": {},
            "status_label": lambda value: t.label("hstatus", value) if value else "-",
            **context,
        },
    )
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def filter_args(
    view: Literal["sources", "units"] = "sources",
    unit: Annotated[str | None, Query(max_length=64)] = None,
    status_: Annotated[list[HealthStatus] | None, Query(alias="status")] = None,
    level: UnitLevel | None = None,
    kind: SourceKind | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: Annotated[str | None, Query(max_length=40)] = None,
    order: Literal["asc", "desc"] = "asc",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    paused: bool = False,
) -> Filters:
    """The dashboard's query parameters (shared by the page and the exports)."""
    return Filters(
        view=view,
        unit=(unit or "").strip() or None,
        status=[value.value for value in status_ or []],
        level=level.value if level else None,
        kind=kind.value if kind and view == "sources" else None,
        q=(q or "").strip() or None,
        sort=sort or None,
        order=order,
        page=page,
        paused=paused and view == "sources",
    )


FiltersDep = Annotated[Filters, Depends(filter_args)]


@router.get("", name="staff_health")
def dashboard(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Staff,
    clock: ClockDep,
    filters: FiltersDep,
) -> HTMLResponse:
    """Sources or units with their health, filtered and sorted; the roll-up of the tree; exports."""
    columns = SOURCE_TABLE if filters.view == "sources" else UNIT_TABLE
    error = None
    try:
        records = filtered_report(session, settings, clock(), filters).records()
    except LookupError:
        error, records = filters.unit, []  # an unknown unit: said on the page, no rows
    pages = max(1, -(-len(records) // PAGE_SIZE))
    page = min(filters.page, pages)
    shown = with_reason_data(session, filters.view, records[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    return health_page(
        request,
        user,
        "staff/health.html",
        {
            "filters": filters,
            "columns": columns,
            "rows": shown,
            "total": len(records),
            "counts": status_counts(session, filters.view),
            "rollup": _rollup(session),
            "statuses": STATUSES,
            "levels": [level.value for level in UnitLevel],
            "kinds": [kind.value for kind in SourceKind],
            "unknown_unit": error,
            "page": page,
            "pages": pages,
            "prev_query": filters.query(page=page - 1) if page > 1 else None,
            "next_query": filters.query(page=page + 1) if page < pages else None,
            "export_query": filters.query(page=1),
        },
    )


@dataclass(frozen=True, slots=True)
class RollupRow:
    slug: str
    name: str
    counts: dict[str, int]
    total: int


def _rollup(session: Session) -> list[RollupRow]:
    """Each district with the statuses of the units under it (``report.rollup_counts``)."""
    counts = rollup_counts(session, UnitLevel.DISTRICT.value)
    names = dict(
        session.execute(
            select(Unit.slug, Unit.name).where(Unit.slug.in_(list(counts))).order_by(Unit.path)
        ).all()
    )
    return [
        RollupRow(slug, name, counts[slug], sum(counts[slug].values()))
        for slug, name in names.items()
        if slug in counts
    ]


@router.get("/export", name="staff_health_export")
def export(
    session: SessionDep,
    settings: SettingsDep,
    user: Staff,
    clock: ClockDep,
    filters: FiltersDep,
    format: Literal["csv", "xlsx"] = "csv",
) -> Response:
    """The rows of the dashboard's table (every column) as CSV or XLSX: ``xinlian health report``'s."""
    now = clock()
    try:
        report = filtered_report(session, settings, now, filters)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    by = "unit" if filters.view == "units" else "source"
    stem = f"health-{filters.view}-{to_zone(now, settings.timezone):%Y%m%d-%H%M}"
    headers = {"Cache-Control": "no-store, private"}
    if format == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
        return Response(to_csv(report), media_type="text/csv; charset=utf-8", headers=headers)
    with tempfile.TemporaryDirectory() as folder:
        path = write_xlsx(report, Path(folder) / "health.xlsx", title=f"health by {by}")
        content = path.read_bytes()
    headers["Content-Disposition"] = f'attachment; filename="{stem}.xlsx"'
    return Response(content, media_type=XLSX_TYPE, headers=headers)
