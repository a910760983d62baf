"""The index catch-up after a moderation decision: prompt, and skipped while the index is down.

A decision (web API or ``xinlian moderate``) commits its outbox row, then drains the outbox at once so
the public sees it without waiting for the worker. With the search backend not answering, that drain
could hold the decision for the client's whole retry budget (4 x ``search.es_timeout_s``). So the
catch-up is skipped while an outbox row failed because the backend could not be reached within the
last ``search.catch_up_quiet_s`` seconds: the store is the memory shared by every web process, the
CLI and the worker. The first decision after an outage begins pays one drain and records the failure;
the worker's drain applies the skipped rows later (docs/search.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select

from hub.db import Database
from hub.models import OutboxEntry
from hub.settings import Settings
from hub.timeutil import utcnow
from index.backend import SearchBackend
from index.outbox import UNREACHABLE_PREFIX, DrainStats, drain_outbox


def recently_unreachable(database: Database, now: datetime, quiet_s: float) -> bool:
    """Whether some outbox row failed in the last ``quiet_s`` seconds because the backend was down."""
    if quiet_s <= 0:
        return False
    failed_lately = exists().where(
        OutboxEntry.failed_at >= now - timedelta(seconds=quiet_s),
        OutboxEntry.last_error.startswith(UNREACHABLE_PREFIX, autoescape=True),
    )
    with database.session() as session:
        return bool(session.scalar(select(failed_lately)))


def catch_up(
    database: Database, backend: SearchBackend, settings: Settings, now: datetime | None = None
) -> DrainStats | None:
    """Drain the outbox now, unless the backend was found unreachable lately (None: skipped)."""
    now = now or utcnow()
    if recently_unreachable(database, now, settings.search.catch_up_quiet_s):
        return None
    return drain_outbox(database, backend, settings.search.outbox_batch, now=now, zone=settings.timezone)
