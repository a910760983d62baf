"""Health report rows for tables and exports (``xinlian health report``, the admin dashboard).

A ``Report`` is columns and rows of plain values (text, numbers, booleans, None), so the CSV, the
XLSX and the JSON carry exactly the same rows. Dates are shown in the configured zone.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from hub.models import (
    HealthStatus,
    Item,
    Source,
    SourceHealth,
    Unit,
    UnitHealthSummary,
    UnitScoreMonth,
)
from hub.secreturl import masked_url
from hub.timeutil import to_zone

Value = str | int | float | bool | None

SOURCE_COLUMNS = (
    "unit",
    "unit_name",
    "level",
    "unit_type",
    "source_id",
    "source",
    "kind",
    "url",
    "status",
    "reason",
    "status_since",
    "last_new_item",
    "items_4w",
    "items_12w",
    "rate_4w",
    "rate_12w",
    "trend",
    "removed_12w",
    "parse_ok",
    "extraction_failing",
    "availability",
    "consecutive_failures",
    "last_error",
    "paused_at",  # the schedule paused crawling after failures for days (hub/schedule/plan.py)
    "pause_reason",
    "reachable",
    "http_status",
    "latency_ms",
    "redirects",
    "tls_days_left",
    "tls_expiring",
    "robots_blocked",
    "probed_at",
)
UNIT_COLUMNS = (
    "unit",
    "unit_name",
    "level",
    "unit_type",
    "parent",
    "status",
    "reason",
    "status_since",
    "score",
    "rank_in_level",
    "frequency",
    "timeliness",
    "originality",
    "availability",
    "moderation",
    "sources",
    "source_statuses",
)


@dataclass(slots=True)
class Report:
    """Named columns and rows of plain values."""

    columns: tuple[str, ...]
    rows: list[list[Value]]

    def records(self) -> list[dict[str, Value]]:
        """One dict per row (the JSON format)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _when(value: datetime | None, zone: str) -> str | None:
    return to_zone(value, zone).strftime("%Y-%m-%d %H:%M") if value is not None else None


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _in_subtree(session: Session, unit_slug: str) -> ColumnElement[bool]:
    """Units of ``unit_slug``'s subtree, itself included."""
    path = session.scalar(select(Unit.path).where(Unit.slug == unit_slug))
    if path is None:
        raise LookupError(f"unknown unit {unit_slug!r}")
    return Unit.path.startswith(path, autoescape=True)


def source_report(
    session: Session,
    now: datetime,
    zone: str,
    tls_warn_days: float,
    unit_slug: str | None = None,
    statuses: Sequence[str] = (),
) -> Report:
    """One row per source with a health row, in tree order (``unit_slug``: that unit and its subtree)."""
    query = (
        select(Source, Unit, SourceHealth)
        .join(Unit, Unit.id == Source.unit_id)
        .join(SourceHealth, SourceHealth.source_id == Source.id)
        .where(SourceHealth.computed_at.is_not(None))
        .order_by(Unit.path, Source.id)
    )
    if unit_slug is not None:
        query = query.where(_in_subtree(session, unit_slug))
    if statuses:
        query = query.where(SourceHealth.status.in_(list(statuses)))
    rows: list[list[Value]] = []
    for source, unit, health in session.execute(query):
        days_left = None
        if health.tls_expires_at is not None:
            days_left = (health.tls_expires_at - now).total_seconds() / 86400
        rate_4w, rate_12w = health.items_4w / 4, health.items_12w / 12
        rows.append(
            [
                unit.slug,
                unit.name,
                unit.level,
                unit.unit_type,
                source.id,
                source.name,
                source.kind,
                masked_url(source.url),  # exports and the API go to every staff member (hub/secreturl.py)
                health.status,
                health.reason,
                _when(health.status_since, zone),
                _when(health.last_new_item_at, zone),
                health.items_4w,
                health.items_12w,
                _round(rate_4w),
                _round(rate_12w),
                _round(rate_4w / rate_12w) if rate_12w else None,
                health.removed_12w,
                health.parse_ok,
                health.extraction_failing,
                _round(health.availability, 3),
                source.consecutive_failures,
                source.last_error_kind,
                _when(source.paused_at, zone),
                source.pause_reason,
                health.reachable,
                health.http_status,
                health.latency_ms,
                len(health.redirects or []),
                _round(days_left, 1),
                days_left is not None and days_left < tls_warn_days,
                health.robots_blocked,
                _when(health.probed_at, zone),
            ]
        )
    return Report(SOURCE_COLUMNS, rows)


PAUSED_COLUMNS = ("unit", "unit_name", "source_id", "source", "url", "paused_at", "pause_reason")


def paused_report(session: Session, zone: str, unit_slug: str | None = None) -> Report:
    """One row per source the schedule paused, in tree order (``unit_slug``: that unit and its
    subtree), health row or not: the weekly digest lists them."""
    query = (
        select(Source, Unit)
        .join(Unit, Unit.id == Source.unit_id)
        .where(Source.paused_at.is_not(None))
        .order_by(Unit.path, Source.id)
    )
    if unit_slug is not None:
        query = query.where(_in_subtree(session, unit_slug))
    rows: list[list[Value]] = [
        [
            unit.slug,
            unit.name,
            source.id,
            source.name,
            masked_url(source.url),
            _when(source.paused_at, zone),
            source.pause_reason,
        ]
        for source, unit in session.execute(query)
    ]
    return Report(PAUSED_COLUMNS, rows)


def unit_report(
    session: Session, zone: str, unit_slug: str | None = None, statuses: Sequence[str] = ()
) -> Report:
    """One row per unit with a health row, in tree order, with its rank by score among its level."""
    parent = aliased(Unit)
    query = (
        select(Unit, UnitHealthSummary, parent.slug)
        .join(UnitHealthSummary, UnitHealthSummary.unit_id == Unit.id)
        .outerjoin(parent, parent.id == Unit.parent_id)
        .order_by(Unit.path)
    )
    if unit_slug is not None:
        query = query.where(_in_subtree(session, unit_slug))
    if statuses:
        query = query.where(UnitHealthSummary.status.in_(list(statuses)))
    ranks = level_ranks(session)
    rows: list[list[Value]] = []
    for unit, health, parent_slug in session.execute(query):
        breakdown = health.breakdown or {}
        counts = health.source_counts or {}
        rows.append(
            [
                unit.slug,
                unit.name,
                unit.level,
                unit.unit_type,
                parent_slug,
                health.status,
                health.reason,
                _when(health.status_since, zone),
                health.score,
                ranks.get(unit.id),
                *[(breakdown.get(name) or {}).get("value") for name in UNIT_COLUMNS[10:15]],
                sum(counts.values()),
                " ".join(f"{status}:{count}" for status, count in sorted(counts.items())),
            ]
        )
    return Report(UNIT_COLUMNS, rows)


def level_ranks(session: Session) -> dict[int, int]:
    """Each scored unit's rank by score among the units of its level (1 = best; ties share a rank)."""
    rows = session.execute(
        select(Unit.id, Unit.level, UnitHealthSummary.score)
        .join(UnitHealthSummary, UnitHealthSummary.unit_id == Unit.id)
        .where(UnitHealthSummary.score.is_not(None))
        .order_by(Unit.level, UnitHealthSummary.score.desc(), Unit.id)
    ).all()
    ranks: dict[int, int] = {}
    level, rank, previous = None, 0, None
    for position, (unit_id, unit_level, score) in enumerate(rows):
        if unit_level != level:
            level, start, previous = unit_level, position, None
        if score != previous:
            rank, previous = position - start + 1, score
        ranks[unit_id] = rank
    return ranks


def scored_peers(session: Session, level: str) -> int:
    """How many units of ``level`` have a score (what a rank in that level is out of)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(UnitHealthSummary)
            .join(Unit, Unit.id == UnitHealthSummary.unit_id)
            .where(Unit.level == level, UnitHealthSummary.score.is_not(None))
        )
        or 0
    )


def status_counts(session: Session, view: str) -> dict[str, int]:
    """How many sources (``view`` "sources") or units have each status, over everything assessed."""
    table: Any = SourceHealth if view == "sources" else UnitHealthSummary
    rows = session.execute(
        select(table.status, func.count()).where(table.computed_at.is_not(None)).group_by(table.status)
    ).all()
    found = {row[0]: int(row[1]) for row in rows}
    return {value.value: found.get(value.value, 0) for value in HealthStatus}


def ranking(session: Session, level: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Units by score, best first (of one level, or all): rank in level, slug, name, level, score."""
    ranks = level_ranks(session)
    query = (
        select(Unit.id, Unit.slug, Unit.name, Unit.level, UnitHealthSummary.score)
        .join(UnitHealthSummary, UnitHealthSummary.unit_id == Unit.id)
        .where(UnitHealthSummary.score.is_not(None))
        .order_by(UnitHealthSummary.score.desc(), Unit.path)
    )
    if level is not None:
        query = query.where(Unit.level == level)
    if limit is not None:
        query = query.limit(limit)
    return [
        {"rank": ranks[row.id], "unit": row.slug, "name": row.name, "level": row.level, "score": row.score}
        for row in session.execute(query)
    ]


def score_trend(session: Session, unit_id: int, months: int = 12) -> list[tuple[str, float | None]]:
    """A unit's monthly scores, oldest first (the last ``months`` months that have a snapshot)."""
    rows = session.execute(
        select(UnitScoreMonth.month, UnitScoreMonth.score)
        .where(UnitScoreMonth.unit_id == unit_id)
        .order_by(UnitScoreMonth.month.desc())
        .limit(months)
    ).all()
    return [(month, score) for month, score in reversed(rows)]


def items_per_week(
    session: Session,
    now: datetime,
    *,
    source_id: int | None = None,
    unit_id: int | None = None,
    weeks: int = 12,
) -> list[tuple[datetime, int]]:
    """New items per week of a source or a unit, oldest week first: (week start, count), ``weeks``
    weeks ending at ``now`` (dated like the signals: publication, else first seen). For charts."""
    if (source_id is None) == (unit_id is None):
        raise ValueError("name exactly one of source_id and unit_id")
    start = now - timedelta(weeks=weeks)
    dated = func.coalesce(Item.published_at, Item.first_seen_at)
    owner = Item.source_id == source_id if source_id is not None else Item.unit_id == unit_id
    counts = [0] * weeks
    for (when,) in session.execute(select(dated).where(owner, dated > start, dated <= now)):
        index = min(int((when - start) / timedelta(weeks=1)), weeks - 1)
        counts[index] += 1
    return [(start + timedelta(weeks=n), count) for n, count in enumerate(counts)]


def rollup_counts(session: Session, level: str = "district") -> dict[str, dict[str, int]]:
    """Per unit of ``level`` (by slug): how many units below it have each status (the tree roll-up,
    e.g. how many branches of each district are active, stale or broken). The unit itself not counted."""
    parents = session.execute(select(Unit.slug, Unit.path).where(Unit.level == level)).all()
    rows = session.execute(
        select(Unit.path, UnitHealthSummary.status).join(
            UnitHealthSummary, UnitHealthSummary.unit_id == Unit.id
        )
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for slug, path in parents:
        below = Counter(
            status for unit_path, status in rows if unit_path != path and unit_path.startswith(path)
        )
        counts[slug] = dict(sorted(below.items()))
    return counts


def to_csv(report: Report) -> str:
    """The report as CSV text (a header line, then the rows; None as an empty field)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(report.columns)
    writer.writerows(["" if value is None else value for value in row] for row in report.rows)
    return buffer.getvalue()


def write_xlsx(report: Report, path: str | Path, title: str = "health") -> Path:
    """The report as an Excel workbook: one sheet, a bold frozen header, the same rows as the CSV."""
    from openpyxl import Workbook  # imported here: only the xlsx export needs it
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(list(report.columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in report.rows:
        sheet.append(list(row))
    target = Path(path)
    workbook.save(target)
    return target
