"""The health listener that turns a source's status change into alert rows (docs/health.md "Alerts").

Called by the sweep inside its transaction (hub/health/events.py), it only writes alert_outbox rows;
the worker's alerts job sends them. A source becomes broken or unreachable after
``health.failures_for_status`` failed crawls in a row: that change is the alert, and its return to a
readable status the recovery. The repeat interval (``alerts.repeat_s``) is kept per source and event:
an alert that comes sooner than that after the previous one of its kind is held until the interval is
over, and dropped (with the change that undoes it) if the source flips back meanwhile, so recipients
never get more than one message of a kind per interval and always end up told the current state.

A source the schedule pauses (hub/schedule/hooks.py writes the change and calls these listeners) gets
one *paused* alert per pause, under the same repeat interval; a resumption drops a pause alert still
held back, and sends nothing itself (the recovery alert tells of a readable source).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from hub.alerts.outbox import drop_held, last_due, queue
from hub.alerts.payload import FAILING, PAUSED, RECOVERED, event_of, is_resumption, source_alert
from hub.alerts.recipients import alert_recipients, path_slugs
from hub.health.events import HealthChange, HealthListener
from hub.models import Source
from hub.settings import AlertsSettings, Settings

# The event that undoes each event (a pause is undone by a resumption, handled apart).
OPPOSITE = {FAILING: RECOVERED, RECOVERED: FAILING}


@dataclass(frozen=True, slots=True)
class AlertListener:
    """A HealthListener queueing failure and recovery alerts."""

    alerts: AlertsSettings
    base_url: str

    def __call__(self, session: Session, change: HealthChange) -> None:
        if change.source_id is None:
            return
        now = change.at
        if is_resumption(change):
            drop_held(session, change.source_id, PAUSED, now)
            return
        event = event_of(change)
        if event is None:
            return
        opposite = OPPOSITE.get(event)
        if opposite is not None and drop_held(session, change.source_id, opposite, now):
            return  # the held opposite never went out: recipients still know the state we are back to
        source = session.get(Source, change.source_id)
        if source is None:
            return
        recipients = alert_recipients(self.alerts, path_slugs(session, source.unit))
        if not recipients:
            return
        due = now
        previous = last_due(session, source.id, event)
        if previous is not None:
            due = max(now, previous + timedelta(seconds=self.alerts.repeat_s))
        payload = source_alert(event, change, source, source.unit, self.base_url)
        queue(session, recipients, event, payload, now, due, source.id, source.unit_id)


def alert_listeners(settings: Settings) -> list[HealthListener]:
    """The listeners the worker's health job passes to the sweep (and the schedule's status hooks pass
    pauses to): none with alerts disabled."""
    if not settings.alerts.enabled:
        return []
    return [AlertListener(settings.alerts, settings.web.base_url)]
