"""The worker's alerts job: queue the weekly digests that are due, send what is due, prune old rows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from hub.alerts.deliver import DeliveryStats, deliver_due
from hub.alerts.digest import queue_digests
from hub.alerts.outbox import prune
from hub.db import Database
from hub.settings import Settings
from hub.timeutil import utcnow

log = logging.getLogger("xinlian.alerts")


def alerts_tick(settings: Settings, database: Database, now: datetime | None = None) -> DeliveryStats:
    """One run of the job at ``now`` (the real clock by default)."""
    now = now or utcnow()
    alerts = settings.alerts
    with database.session() as session:
        if alerts.enabled:
            digests = queue_digests(session, alerts, settings.timezone, settings.web.base_url, now)
            if digests:
                log.info("alerts: %d weekly digest e-mails queued", digests)
        prune(session, now, alerts.keep_days)
    stats = deliver_due(alerts, settings.timezone, database, now)
    if stats.sent or stats.failed or stats.given_up:
        log.info("alerts: %d sent, %d to retry, %d given up", stats.sent, stats.failed, stats.given_up)
    return stats


def alerts_job(settings: Settings, database: Database) -> Callable[[], None]:
    """The worker's periodic job (cli/worker_cmd.py): one ``alerts_tick`` at the real clock."""

    def job() -> None:
        alerts_tick(settings, database)

    return job
