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
from typing import Any

from sqlalchemy import insert, select
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
    reason_data: dict[str, Any] | None = None  # key and values (hub/health/reasons.py)


def record_changes(session: Session, changes: Sequence[PendingChange], at: datetime) -> list[HealthChange]:
    """Write one health_events row per change and return them as HealthChanges.

    One bulk INSERT ... RETURNING (the first sweep of 10,000 sources records 20,000 changes).
    """
    if not changes:
        return []
    rows = [
        {
            "subject": change.subject,
            "source_id": change.source_id,
            "unit_id": change.unit_id,
            "from_status": change.from_status,
            "to_status": change.to_status,
            "at": at,
            "reason": change.reason[:REASON_MAX],
            "reason_data": change.reason_data,
        }
        for change in changes
    ]
    statement = insert(HealthEvent).returning(HealthEvent.id, sort_by_parameter_order=True)
    ids = session.scalars(statement, rows).all()
    return [
        HealthChange(
            event_id,
            change.subject,
            change.source_id,
            change.unit_id,
            change.from_status,
            change.to_status,
            at,
            change.reason[:REASON_MAX],
        )
        for event_id, change in zip(ids, changes, strict=True)
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
