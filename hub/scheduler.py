"""Step 3 of docs/architecture.md: which sources are due, and the worker's periodic jobs.

The schedule is a column (``sources.next_check_at``), not one timer per source; APScheduler runs a
few periodic jobs (crawl tick, outbox drain) that read it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from hub.models import Source
from hub.timeutil import utcnow


def claim_due_sources(
    session: Session, limit: int, per_host_cap: int, lease_s: int, now: datetime | None = None
) -> list[int]:
    """Pick up to ``limit`` enabled sources whose check is due and lease them for ``lease_s``.

    The lease moves ``next_check_at`` forward with a conditional UPDATE, so two workers never take the
    same source; a crawl outcome then sets the real next check. A worker killed mid-crawl loses nothing:
    its sources become due again when the lease runs out.
    """
    now = now or utcnow()
    due = or_(Source.next_check_at.is_(None), Source.next_check_at <= now)
    candidates = session.execute(
        select(Source.id, Source.url, Source.next_check_at)
        .where(Source.enabled.is_(True), due)
        .order_by(Source.next_check_at.asc().nulls_first(), Source.id)
        .limit(limit * 4)
    ).all()
    per_host: Counter[str] = Counter()
    lease_until = now + timedelta(seconds=lease_s)
    claimed: list[int] = []
    for source_id, url, next_check_at in candidates:
        host = urlsplit(url).netloc
        if per_host[host] >= per_host_cap:
            continue
        still_due = (
            Source.next_check_at.is_(None) if next_check_at is None else Source.next_check_at == next_check_at
        )
        result = session.execute(
            update(Source).where(Source.id == source_id, still_due).values(next_check_at=lease_until)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            per_host[host] += 1
            claimed.append(source_id)
        if len(claimed) >= limit:
            break
    return claimed


def build_scheduler(jobs: list[tuple[str, Callable[[], None], float]]) -> BlockingScheduler:
    """A blocking scheduler running each ``(name, function, every_seconds)`` job, never overlapping itself."""
    scheduler = BlockingScheduler(timezone="UTC")
    for name, function, every_s in jobs:
        scheduler.add_job(
            function,
            "interval",
            seconds=every_s,
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),
        )
    return scheduler
