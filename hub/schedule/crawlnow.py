""" "Crawl now" (docs/architecture.md step 3): staff make sources due at once, and lift their pause.

Used by ``xinlian sources crawl-now`` and ``POST /api/v1/staff/sources/{id}/crawl-now``. The source's
next check becomes ``now`` and the request is remembered (``crawl_requested_at``): a source that a
worker is crawling at this moment keeps its lease (never two crawls at once) and is crawled once more
right after, since that crawl may have fetched the site before the request. A paused source is
resumed here, which is reported to the hooks; if it still fails it is paused again after its crawl.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.health import reasons
from hub.health.reasons import Reason
from hub.models import Source
from hub.schedule.hooks import StatusChange, StatusHook, notify, status_change


@dataclass(frozen=True, slots=True)
class CrawlNow:
    """What "crawl now" did to one source."""

    source_id: int
    enabled: bool  # a disabled source is left as it is: no worker would take it
    resumed: bool  # it was paused
    leased: bool  # a worker is crawling it now; it is crawled again when that crawl ends


def crawl_now(
    session: Session,
    source_ids: Sequence[int],
    actor: str,
    now: datetime,
    hooks: Sequence[StatusHook] = (),
) -> list[CrawlNow]:
    """Make the enabled ``source_ids`` due at ``now``; ``actor`` is named in the resume reason."""
    done: list[CrawlNow] = []
    changes: list[StatusChange] = []
    for source in session.scalars(select(Source).where(Source.id.in_(source_ids)).order_by(Source.id)):
        if not source.enabled:
            done.append(CrawlNow(source.id, False, False, False))
            continue
        leased = source.leased_until is not None and source.leased_until > now
        resumed = source.paused_at is not None
        if resumed:
            why = Reason(reasons.RESUMED_ON_REQUEST, {"actor": actor})
            changes.append(status_change(source.id, "resumed", now, why))
        source.paused_at = None
        source.pause_reason = None
        source.crawl_requested_at = now
        if not leased:
            source.next_check_at = now
        done.append(CrawlNow(source.id, True, resumed, leased))
    session.flush()
    notify(session, hooks, changes)
    return done
