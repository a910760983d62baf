"""Recompute every source's and unit's health and score, as of ``now`` (docs/health.md).

Reads the signals (signals.py), applies the rules (status.py, score.py), writes source_health,
unit_health and this month's unit_score_months rows, records status changes (events.py) and hands
them to the listeners, all in the caller's transaction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.health.events import (
    SUBJECT_SOURCE,
    SUBJECT_UNIT,
    HealthChange,
    HealthListener,
    PendingChange,
    notify,
    record_changes,
)
from hub.health.probestore import ensure_health_rows
from hub.health.score import compute_score, unit_activity
from hub.health.signals import SourceSignals, collect_signals
from hub.health.status import Verdict, classify_source, rollup_unit
from hub.models import SourceHealth, Unit, UnitHealthSummary, UnitScoreMonth
from hub.settings import HealthSettings
from hub.timeutil import to_zone

REASON_MAX = 300


@dataclass(slots=True)
class SweepSummary:
    """What one sweep found: statuses counted, and the changes it recorded."""

    sources: Counter[str] = field(default_factory=Counter)
    units: Counter[str] = field(default_factory=Counter)
    changes: list[HealthChange] = field(default_factory=list)


def month_of(now: datetime, zone: str) -> str:
    """The month of ``now`` in ``zone``, as "2024-06" (the key of the monthly score snapshot)."""
    return to_zone(now, zone).strftime("%Y-%m")


def sweep(
    session: Session,
    health: HealthSettings,
    zone: str,
    now: datetime,
    listeners: Sequence[HealthListener] = (),
) -> SweepSummary:
    """Recompute and store the health of every enabled source and every unit; returns a summary."""
    summary = SweepSummary()
    pending: list[PendingChange] = []
    signals = collect_signals(session, now, health.availability_days)
    by_unit = _update_sources(session, signals, health, now, pending, summary)
    units = {
        row.id: (row.level, row.unit_type)
        for row in session.execute(select(Unit.id, Unit.level, Unit.unit_type))
    }
    activity = unit_activity(session, signals.values(), units, now, health.score_window_days)
    rows = {row.unit_id: row for row in session.scalars(select(UnitHealthSummary))}
    month = month_of(now, zone)
    snapshots = {
        row.unit_id: row
        for row in session.scalars(select(UnitScoreMonth).where(UnitScoreMonth.month == month))
    }
    for unit_id in units:
        statuses = by_unit.get(unit_id, [])
        verdict = rollup_unit(statuses)
        score = compute_score(
            activity[unit_id], health.score_weights, health.expected_per_week, health.stale_days, now
        )
        row = rows.get(unit_id)
        if row is None:
            row = UnitHealthSummary(unit_id=unit_id)
            session.add(row)
        _apply(row, verdict, now, pending, SUBJECT_UNIT, None, unit_id)
        row.source_counts = dict(Counter(statuses))
        row.score, row.breakdown = score.score, score.breakdown
        snapshot = snapshots.get(unit_id)
        if snapshot is None:
            snapshot = UnitScoreMonth(unit_id=unit_id, month=month)
            session.add(snapshot)
        snapshot.score, snapshot.breakdown, snapshot.updated_at = score.score, score.breakdown, now
        summary.units[verdict.status] += 1
    session.flush()
    summary.changes = record_changes(session, pending, now)
    notify(session, summary.changes, listeners)
    return summary


def _update_sources(
    session: Session,
    signals: dict[int, SourceSignals],
    health: HealthSettings,
    now: datetime,
    pending: list[PendingChange],
    summary: SweepSummary,
) -> dict[int, list[str]]:
    """Classify and store every source; returns each unit's source statuses."""
    ensure_health_rows(session)
    rows = {row.source_id: row for row in session.scalars(select(SourceHealth))}
    by_unit: dict[int, list[str]] = defaultdict(list)
    for source_id, signal in signals.items():
        verdict = classify_source(signal, health, now)
        row = rows[source_id]
        _apply(row, verdict, now, pending, SUBJECT_SOURCE, source_id, signal.unit_id)
        row.parse_ok = signal.parse_ok
        row.extraction_failing = signal.extraction_failing
        row.last_new_item_at = signal.last_new_item_at
        row.items_4w, row.items_12w, row.removed_12w = signal.items_4w, signal.items_12w, signal.removed_12w
        row.availability = signal.availability
        by_unit[signal.unit_id].append(verdict.status)
        summary.sources[verdict.status] += 1
    return by_unit


def _apply(
    row: SourceHealth | UnitHealthSummary,
    verdict: Verdict,
    now: datetime,
    pending: list[PendingChange],
    subject: str,
    source_id: int | None,
    unit_id: int,
) -> None:
    """Set the row's status; a change (or the first status) becomes a pending event."""
    first = row.computed_at is None
    if first or row.status != verdict.status:
        previous = None if first else row.status
        pending.append(
            PendingChange(
                subject, source_id, unit_id, previous, verdict.status, verdict.reason, verdict.why.data()
            )
        )
        row.status_since = now
    row.status = verdict.status.value
    row.reason = verdict.reason[:REASON_MAX]
    row.reason_data = verdict.why.data()
    row.computed_at = now
