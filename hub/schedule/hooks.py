"""Status changes of the schedule: a source paused after failing for days, or resumed (step 3).

Whoever changes a source's pause state (``reschedule.py`` after a crawl, ``crawlnow.py``) calls every
hook it was given, in the same transaction, so a hook may write rows (hub/health's events) that
commit or roll back with the change. Hooks are passed in, never registered globally; ``status_hooks``
builds the list each process uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.alerts.listener import alert_listeners
from hub.health.events import SUBJECT_SOURCE, HealthListener, PendingChange, record_changes
from hub.health.events import notify as notify_listeners
from hub.health.reasons import Reason
from hub.models import Source
from hub.settings import Settings

logger = logging.getLogger("xinlian.schedule")


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One source paused or resumed, when and why: ``reason`` in English (logs, alerts, the source's
    pause_reason), ``reason_data`` its key and values for the staff pages (hub/health/reasons.py)."""

    source_id: int
    state: Literal["paused", "resumed"]
    at: datetime
    reason: str
    reason_data: dict[str, Any] | None = None


# A pause reason is kept on the source (sources.pause_reason) and in the health event: at most this long.
REASON_MAX = 500


def status_change(
    source_id: int, state: Literal["paused", "resumed"], at: datetime, why: Reason
) -> StatusChange:
    """The change with ``why`` worded in English and kept as data."""
    return StatusChange(source_id, state, at, why.english()[:REASON_MAX], why.data())


StatusHook = Callable[[Session, StatusChange], None]


def log_status_change(session: Session, change: StatusChange) -> None:
    """Log the change (a pause as a warning: someone should look at the source)."""
    level = logging.WARNING if change.state == "paused" else logging.INFO
    logger.log(level, "source %d %s: %s", change.source_id, change.state, change.reason)


# How a pause and a resumption read in a source's health history (beside the sweep's statuses).
SCHEDULED, PAUSED = "scheduled", "paused"


def record_health_event(
    session: Session, change: StatusChange, listeners: Sequence[HealthListener] = ()
) -> None:
    """Write the change into the source's health history (health_events), in the same transaction:
    the dashboard's timeline shows when crawling stopped and why; then hand it to ``listeners`` (the
    alert listener queues a *paused* alert, hub/alerts/listener.py)."""
    unit_id = session.scalar(select(Source.unit_id).where(Source.id == change.source_id))
    if unit_id is None:  # the source was deleted meanwhile
        return
    from_status, to_status = (SCHEDULED, PAUSED) if change.state == "paused" else (PAUSED, SCHEDULED)
    pending = PendingChange(
        SUBJECT_SOURCE, change.source_id, unit_id, from_status, to_status, change.reason, change.reason_data
    )
    notify_listeners(session, record_changes(session, [pending], change.at), listeners)


def status_hooks(settings: Settings) -> list[StatusHook]:
    """The hooks of a process: logging, and recording the change in the source's health history
    (with the alert listeners: a pause is alerted)."""
    listeners = alert_listeners(settings)

    def record(session: Session, change: StatusChange) -> None:
        record_health_event(session, change, listeners)

    return [log_status_change, record]


def notify(session: Session, hooks: Sequence[StatusHook], changes: Sequence[StatusChange]) -> None:
    """Hand every change to every hook, in order."""
    for change in changes:
        for hook in hooks:
            hook(session, change)
