"""The alert outbox: rows written with the change that caused them, claimed and sent by the worker.

A row is owed until it is sent, dropped (a held alert the source's next change made moot) or given up
after ``alerts.max_attempts``; a failed send waits ``backoff`` and is tried again, so an unreachable
webhook or SMTP server delays alerts but never loses them. A claim moves ``next_attempt_at`` past the
send (a lease): two workers never send one row, and a worker killed mid-send leaves it to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from hub.alerts.recipients import Recipient
from hub.models import AlertOutbox
from hub.settings import AlertsSettings
from hub.timeutil import doubling_backoff

ERROR_MAX = 1000


@dataclass(frozen=True, slots=True)
class Claimed:
    """An alert claimed for sending."""

    id: int
    kind: str
    target: str
    event: str
    payload: dict[str, Any]
    attempts: int


def owed() -> Any:
    """Rows not sent, dropped or given up."""
    return (AlertOutbox.sent_at.is_(None), AlertOutbox.dropped_at.is_(None), AlertOutbox.failed_at.is_(None))


def queue(
    session: Session,
    recipients: Sequence[Recipient],
    event: str,
    payload: dict[str, Any],
    now: datetime,
    due: datetime | None = None,
    source_id: int | None = None,
    unit_id: int | None = None,
) -> list[AlertOutbox]:
    """One row per recipient, due at ``due`` (default ``now``), in the caller's transaction."""
    due = due or now
    rows = [
        AlertOutbox(
            kind=recipient.kind,
            target=recipient.target,
            event=event,
            source_id=source_id,
            unit_id=unit_id,
            payload=payload,
            created_at=now,
            due_at=due,
            next_attempt_at=due,
        )
        for recipient in recipients
    ]
    session.add_all(rows)
    session.flush()
    return rows


def last_due(session: Session, source_id: int, event: str) -> datetime | None:
    """When the source's latest alert of ``event`` that was not dropped was (or is) due."""
    return session.scalar(
        select(func.max(AlertOutbox.due_at)).where(
            AlertOutbox.source_id == source_id, AlertOutbox.event == event, AlertOutbox.dropped_at.is_(None)
        )
    )


def drop_held(session: Session, source_id: int, event: str, now: datetime) -> int:
    """Drop the source's alerts of ``event`` still held back by the repeat interval; how many."""
    result = session.execute(
        update(AlertOutbox)
        .where(
            AlertOutbox.source_id == source_id,
            AlertOutbox.event == event,
            AlertOutbox.due_at > now,
            AlertOutbox.attempts == 0,
            *owed(),
        )
        .values(dropped_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def claim(session: Session, now: datetime, lease_s: float, batch: int = 100) -> list[Claimed]:
    """Owed rows due now, oldest first, leased for ``lease_s`` seconds."""
    ids = list(
        session.scalars(
            select(AlertOutbox.id)
            .where(*owed(), AlertOutbox.next_attempt_at <= now)
            .order_by(AlertOutbox.next_attempt_at, AlertOutbox.id)
            .limit(batch)
        )
    )
    if not ids:
        return []
    # Re-checked in the UPDATE: a row another worker leased meanwhile is no longer due.
    taken = session.scalars(
        update(AlertOutbox)
        .where(AlertOutbox.id.in_(ids), AlertOutbox.next_attempt_at <= now, *owed())
        .values(next_attempt_at=now + timedelta(seconds=lease_s))
        .returning(AlertOutbox.id)
    ).all()
    rows = session.scalars(select(AlertOutbox).where(AlertOutbox.id.in_(taken)).order_by(AlertOutbox.id))
    return [Claimed(row.id, row.kind, row.target, row.event, dict(row.payload), row.attempts) for row in rows]


def backoff(attempts: int, alerts: AlertsSettings) -> timedelta:
    """Wait after the ``attempts``-th failure: base, doubled per failure, capped."""
    return doubling_backoff(attempts, alerts.backoff_base_s, alerts.backoff_max_s)


def mark_sent(session: Session, alert_id: int, now: datetime) -> None:
    """The recipient took it."""
    session.execute(
        update(AlertOutbox)
        .where(AlertOutbox.id == alert_id)
        .values(sent_at=now, attempts=AlertOutbox.attempts + 1, last_error=None)
    )


def mark_failed(
    session: Session, alert_id: int, error: str, now: datetime, alerts: AlertsSettings, retry: bool = True
) -> bool:
    """The send failed: try again after a backoff, or give up (``retry`` False, or out of attempts).

    Returns True when the alert is given up."""
    row = session.get(AlertOutbox, alert_id)
    if row is None:
        return True
    row.attempts += 1
    row.last_error = error[:ERROR_MAX]
    if not retry or row.attempts >= alerts.max_attempts:
        row.failed_at = now
    else:
        row.next_attempt_at = now + backoff(row.attempts, alerts)
    session.flush()
    return row.failed_at is not None


def prune(session: Session, now: datetime, keep_days: int) -> int:
    """Delete rows settled (sent, dropped, given up) more than ``keep_days`` ago; how many."""
    cutoff = now - timedelta(days=keep_days)
    result = session.execute(
        delete(AlertOutbox).where(
            AlertOutbox.created_at < cutoff,
            AlertOutbox.due_at < cutoff,
            or_(
                AlertOutbox.sent_at.is_not(None),
                AlertOutbox.dropped_at.is_not(None),
                AlertOutbox.failed_at.is_not(None),
            ),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
