"""The weekly digest: each unit of ``alerts.digest_level`` (districts) whose contacts are configured
gets, once a week, the list of units in its subtree that are stale, dormant, broken or unreachable
(``alerts.digest_statuses``), from the health report (``hub/health/report.unit_report``), and the
sources under it that the schedule paused (``report.paused_report``).

The week's slot is ``alerts.digest_weekday`` at ``alerts.digest_hour`` in the configured zone. The
alerts job looks every tick; a unit whose ``alert_digests`` row covers the latest slot is done, so
a worker that was down at the slot sends the digest when it is back, and never twice for one slot.
A unit with nothing to list (no such unit, no paused source) gets no mail that week.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.alerts.outbox import queue
from hub.alerts.payload import DIGEST, iso, unit_part
from hub.alerts.recipients import EMAIL, Recipient, contact_addresses, email_enabled
from hub.health.report import paused_report, unit_report
from hub.models import AlertDigest, Unit
from hub.settings import AlertsSettings


def latest_slot(now: datetime, zone: str, weekday: int, hour: int) -> datetime:
    """The latest weekly slot (``weekday`` at ``hour`` o'clock in ``zone``) at or before ``now``, in UTC."""
    local = now.astimezone(ZoneInfo(zone))
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    slot = datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(zone))
    if slot > local:
        slot -= timedelta(days=7)
    return slot.astimezone(now.tzinfo)


def queue_digests(session: Session, alerts: AlertsSettings, zone: str, base_url: str, now: datetime) -> int:
    """Queue the digests due at ``now``; returns how many e-mails were queued."""
    if not email_enabled(alerts):
        return 0
    slot = latest_slot(now, zone, alerts.digest_weekday, alerts.digest_hour)
    units = session.scalars(
        select(Unit)
        .where(Unit.level == alerts.digest_level, Unit.slug.in_(list(alerts.contacts)))
        .order_by(Unit.path)
    ).all()
    queued = 0
    for unit in units:
        state = session.get(AlertDigest, unit.id)
        if state is not None and state.sent_for >= slot:
            continue
        addresses = contact_addresses(alerts, [unit.slug])
        rows = unit_report(session, zone, unit.slug, alerts.digest_statuses).records()
        paused = paused_report(session, zone, unit.slug).records()
        if (rows or paused) and addresses:
            payload = _payload(unit, rows, paused, now, slot, base_url, alerts.digest_statuses)
            recipients = [Recipient(EMAIL, address) for address in addresses]
            queue(session, recipients, DIGEST, payload, now, unit_id=unit.id)
            queued += len(recipients)
        if state is None:
            session.add(AlertDigest(unit_id=unit.id, sent_for=slot, queued_at=now))
        else:
            state.sent_for, state.queued_at = slot, now
    session.flush()
    return queued


def _payload(
    unit: Unit,
    rows: list[dict[str, Any]],
    paused: list[dict[str, Any]],
    now: datetime,
    slot: datetime,
    base_url: str,
    statuses: list[str],
) -> dict[str, Any]:
    filters = "&".join(f"status={status}" for status in statuses)
    return {
        "event": DIGEST,
        "at": iso(now),
        "week_of": iso(slot),
        "unit": unit_part(unit),
        "rows": rows,
        "paused": paused,
        "dashboard_url": f"{base_url.rstrip('/')}/staff/health?view=units&unit={unit.slug}&{filters}",
    }
