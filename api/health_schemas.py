"""Shapes of the staff health API (/api/v1/health): the dashboard's rows, one unit's score breakdown and
history, one source's signals and timeline.

Rows are those of ``hub/health/report.py`` (the CSV and XLSX exports carry the same); their times are
text in the configured zone, "YYYY-MM-DD HH:MM". The detail answers give full ISO datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.paging import PageOut
from api.schemas import UnitRef

LocalTime = str | None  # "YYYY-MM-DD HH:MM" in the configured zone


class SourceHealthRow(BaseModel):
    """A source's health: one row of ``xinlian health report --by source``."""

    unit: str = Field(description="The unit's slug.")
    unit_name: str
    level: str
    unit_type: str | None
    source_id: int
    source: str = Field(description="The source's name.")
    kind: str
    url: str
    status: str = Field(description="active, slowing, stale, dormant, broken, unreachable or unknown.")
    reason: str
    status_since: LocalTime
    last_new_item: LocalTime
    items_4w: int
    items_12w: int
    rate_4w: float | None = Field(description="Items per week over 4 weeks.")
    rate_12w: float | None = Field(description="Items per week over 12 weeks.")
    trend: float | None = Field(description="rate_4w / rate_12w.")
    removed_12w: int
    parse_ok: bool | None
    extraction_failing: bool
    availability: float | None = Field(description="Successful crawls / attempts in the window.")
    consecutive_failures: int
    last_error: str | None = Field(description="Kind of the last crawl error (timeout, dns, http_5xx...).")
    paused_at: LocalTime = Field(description="When the schedule paused crawling it (failing for days).")
    pause_reason: str | None = Field(description="Why crawling was paused.")
    reachable: bool | None = Field(description="The homepage probe got an HTTP answer.")
    http_status: int | None
    latency_ms: int | None
    redirects: int
    tls_days_left: float | None
    tls_expiring: bool
    robots_blocked: bool | None
    probed_at: LocalTime


class UnitHealthRow(BaseModel):
    """A unit's health: one row of ``xinlian health report --by unit``."""

    unit: str = Field(description="The unit's slug.")
    unit_name: str
    level: str
    unit_type: str | None
    parent: str | None = Field(description="The parent unit's slug.")
    status: str
    reason: str
    status_since: LocalTime
    score: float | None = Field(description="Activity score 0-100.")
    rank_in_level: int | None
    frequency: float | None
    timeliness: float | None
    originality: float | None
    availability: float | None
    moderation: float | None
    sources: int
    source_statuses: str = Field(description='Counts of its sources per status, "active:2 broken:1".')


class HealthListOut(PageOut):
    """One page of the dashboard's table: sources or units, as ``view`` says."""

    view: Literal["sources", "units"]
    counts: dict[str, int] = Field(description="Sources (or units) per status, over everything assessed.")
    items: list[SourceHealthRow] | list[UnitHealthRow]


class HealthEventOut(BaseModel):
    """A status change."""

    at: datetime
    from_status: str | None = Field(description="null: the first assessment.")
    to_status: str
    reason: str


class WeekCountOut(BaseModel):
    """New items in the week starting at ``week_start`` (dated by publication, else first seen)."""

    week_start: datetime
    count: int


class MonthScoreOut(BaseModel):
    """The unit's score as of the month's last sweep."""

    month: str = Field(description="YYYY-MM, in the configured zone.")
    score: float | None


class IndicatorOut(BaseModel):
    """One indicator of the activity score."""

    value: float | None = Field(description="0-1; null when the indicator had no data.")
    weight: float
    points: float | None = Field(description="Its share of the score, out of 100.")
    detail: str | None = None


class UnitHealthOut(BaseModel):
    """A unit's status, score breakdown, rank, trend, sources and status history."""

    unit: UnitRef
    level: str
    status: str | None = Field(description="null until a health sweep has assessed the unit.")
    reason: str | None
    status_since: datetime | None
    computed_at: datetime | None
    score: float | None
    rank_in_level: int | None
    peers: int = Field(description="Units of its level with a score (what the rank is out of).")
    breakdown: dict[str, IndicatorOut]
    source_counts: dict[str, int] = Field(description="Its own sources per status.")
    below: dict[str, int] = Field(description="Units below it per status.")
    sources: list[SourceHealthRow] = Field(description="Its own sources.")
    trend: list[MonthScoreOut] = Field(description="Monthly scores, oldest first.")
    items_per_week: list[WeekCountOut] = Field(description="Its own items, oldest week first.")
    history: list[HealthEventOut] = Field(description="Its status changes, newest first.")


class RedirectOut(BaseModel):
    """One hop of the homepage probe."""

    status: int | None = None
    url: str
    to: str | None = None


class SourceHealthOut(BaseModel):
    """A source's signals, probe, status timeline and items per week."""

    id: int
    name: str
    kind: str
    url: str
    enabled: bool
    unit: UnitRef
    signals: SourceHealthRow | None = Field(description="null until a health sweep has assessed it.")
    probe_message: str | None
    probe_error_kind: str | None
    redirects: list[RedirectOut]
    paused_at: datetime | None
    next_check_at: datetime | None
    history: list[HealthEventOut] = Field(description="Status changes, newest first.")
    items_per_week: list[WeekCountOut] = Field(description="Oldest week first.")
