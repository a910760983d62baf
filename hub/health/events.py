"""Status changes as events with history (health_events), and the hook other modules subscribe to.

A sweep records every change of a source's or a unit's status (the first classification too, with
``from_status`` None) and then calls each listener with the open session and the change, inside the
sweep's transaction: a listener (alerts) should write what it must do (an outbox row) rather than send
it, so a rolled-back sweep leaves nothing behind. Listeners are passed in; there is no registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import HealthEvent

SUBJECT_SOURCE, SUBJECT_UNIT = "source", "unit"
REASON_MAX = 300


@dataclass(frozen=True, slots=True)
class HealthChange:
    """One status change, as listeners receive it."""

    event_id: int
    subject: str  # "source" or "unit"
    source_id: int | None  # None for a unit's change
    unit_id: int  # the unit, or the source's unit
    from_status: str | None  # None: the first classification
    to_status: str
    at: datetime
    reason: str

    @property
    def first(self) -> bool:
        """The subject's first classification (no previous status to compare with)."""
        return self.from_status is None


HealthListener = Callable[[Session, HealthChange], None]


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A change the sweep found, before it is written."""

    subject: str
    source_id: int | None
    unit_id: int
    from_status: str | None
    to_status: str
    reason: str


def record_changes(session: Session, changes: Sequence[PendingChange], at: datetime) -> list[HealthChange]:
    """Write one health_events row per change (one flush) and return them as HealthChanges."""
    rows = [
        HealthEvent(
            subject=change.subject,
            source_id=change.source_id,
            unit_id=change.unit_id,
            from_status=change.from_status,
            to_status=change.to_status,
            at=at,
            reason=change.reason[:REASON_MAX],
        )
        for change in changes
    ]
    session.add_all(rows)
    session.flush()
    return [
        HealthChange(
            row.id, row.subject, row.source_id, row.unit_id, row.from_status, row.to_status, at, row.reason
        )
        for row in rows
    ]


def notify(session: Session, changes: Sequence[HealthChange], listeners: Sequence[HealthListener]) -> None:
    """Hand every change to every listener, in order."""
    for change in changes:
        for listener in listeners:
            listener(session, change)


def history(
    session: Session, *, source_id: int | None = None, unit_id: int | None = None, limit: int = 100
) -> list[HealthEvent]:
    """Status changes of a source, or of a unit itself (not its sources), newest first."""
    query = select(HealthEvent).order_by(HealthEvent.at.desc(), HealthEvent.id.desc()).limit(limit)
    if source_id is not None:
        query = query.where(HealthEvent.source_id == source_id)
    elif unit_id is not None:
        query = query.where(HealthEvent.unit_id == unit_id, HealthEvent.subject == SUBJECT_UNIT)
    return list(session.scalars(query))
