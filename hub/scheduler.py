"""Step 3 of docs/architecture.md: which sources are due, and the worker's periodic jobs.

The schedule is a column (``sources.next_check_at``), not one timer per source; APScheduler runs a
few periodic jobs (crawl tick, outbox drain, ...) that read it. When each source is due next is
decided after its crawl by ``hub/schedule/``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import ColumnElement, or_, select, true, tuple_, update
from sqlalchemy.orm import Session

from hub.models import Source
from hub.timeutil import utcnow

# Candidates read per page are this many times the batch; pages end after SCAN_PAGES (a host with
# more due sources than its cap must not make the claim walk the whole due set).
PAGE_FACTOR = 4
SCAN_PAGES = 5
# A claim that loses candidates to another worker's claim (read the same due rows, leased them first)
# reads again, at most this many times in all, so a worker never idles a round behind a busier one.
CLAIM_ATTEMPTS = 3


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(Source.leased_until.is_(None), Source.leased_until <= now)


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(Source.next_check_at.is_(None), Source.next_check_at <= now)


def _due_pages(session: Session, now: datetime, page: int) -> Iterator[list[tuple[int, str]]]:
    """Due, enabled, unleased sources, oldest check first, a page at a time.

    Never-checked sources (NULL) first, then by next_check_at: two range scans of the
    (enabled, next_check_at, id) index, paged by key, so a page costs the same however many are due.
    """
    base = select(Source.id, Source.url, Source.next_check_at).where(
        Source.enabled == true(), _lease_free(now)
    )
    last_id = 0
    while True:  # never checked: by id
        rows = session.execute(
            base.where(Source.next_check_at.is_(None), Source.id > last_id).order_by(Source.id).limit(page)
        ).all()
        if rows:
            yield [(row[0], row[1]) for row in rows]
            last_id = rows[-1][0]
        if len(rows) < page:
            break
    after: tuple[datetime | None, int] | None = None
    while True:  # due: by (next_check_at, id)
        query = base.where(Source.next_check_at <= now)
        if after is not None:
            query = query.where(tuple_(Source.next_check_at, Source.id) > tuple_(*after))
        rows = session.execute(query.order_by(Source.next_check_at, Source.id).limit(page)).all()
        if rows:
            yield [(row[0], row[1]) for row in rows]
            after = (rows[-1][2], rows[-1][0])
        if len(rows) < page:
            return


def _pick(
    pages: Iterator[list[tuple[int, str]]],
    limit: int,
    per_host_cap: int,
    per_host: Counter[str],
    lost: set[int],
) -> dict[int, str]:
    """Up to ``limit`` candidates (id → host, in due order), counting hosts on from ``per_host``, none
    of ``lost`` (another worker leased them, or is leasing them in a transaction not yet committed)."""
    per_host = per_host.copy()
    picked: dict[int, str] = {}
    for number, rows in enumerate(pages, start=1):
        for source_id, url in rows:
            if source_id in lost:
                continue
            host = urlsplit(url).netloc
            if per_host[host] >= per_host_cap:
                continue
            per_host[host] += 1
            picked[source_id] = host
            if len(picked) >= limit:
                return picked
        if number >= SCAN_PAGES:
            break
    return picked


def claim_due_sources(
    session: Session,
    limit: int,
    per_host_cap: int,
    lease_s: int,
    now: datetime | None = None,
    owner: str = "",
) -> list[int]:
    """Pick up to ``limit`` enabled sources whose check is due, at most ``per_host_cap`` per host, and
    lease them to ``owner`` for ``lease_s``.

    One indexed read picks the candidates, one UPDATE leases them: it re-checks that each is still
    due and unleased (on PostgreSQL it also skips rows another worker is leasing at this moment,
    ``FOR UPDATE SKIP LOCKED``), so two workers never take the same source; the ids it returns are
    the claimed ones. Candidates another worker leased first are replaced by a fresh read (up to
    ``CLAIM_ATTEMPTS`` reads in all). The lease moves ``next_check_at`` to its end as well, so a
    claimed source is out of the due range, and a worker killed mid-crawl loses nothing: its sources
    become due again when the lease runs out. A crawl outcome (hub/crawlrecord.py) ends the lease.
    """
    now = now or utcnow()
    lease_until = now + timedelta(seconds=lease_s)
    claimed: list[int] = []
    hosts: Counter[str] = Counter()
    lost: set[int] = set()
    for _ in range(CLAIM_ATTEMPTS):
        pages = _due_pages(session, now, max(limit * PAGE_FACTOR, 100))
        picked = _pick(pages, limit - len(claimed), per_host_cap, hosts, lost)
        if not picked:
            break
        got = _lease(session, list(picked), now, lease_until, owner)
        for source_id, host in picked.items():
            if source_id in got:
                claimed.append(source_id)
                hosts[host] += 1
            else:
                lost.add(source_id)
        if len(got) == len(picked) or len(claimed) >= limit:
            break  # no other worker took a candidate first: nothing more is due for this claim
    return claimed


def _lease(session: Session, ids: list[int], now: datetime, lease_until: datetime, owner: str) -> set[int]:
    """Lease those of ``ids`` still due and unleased; the ids leased."""
    claimable = (
        select(Source.id)
        .where(Source.id.in_(ids), Source.enabled == true(), _due(now), _lease_free(now))
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer and ignores it
    )
    return set(
        session.scalars(
            update(Source)
            .where(Source.id.in_(claimable.scalar_subquery()))
            .values(next_check_at=lease_until, leased_until=lease_until, lease_owner=owner[:100] or None)
            .returning(Source.id)
            .execution_options(synchronize_session=False)
        ).all()
    )


def add_interval_jobs(scheduler: BaseScheduler, jobs: list[tuple[str, Callable[[], None], float]]) -> None:
    """Add each ``(name, function, every_seconds)`` job: first run at once, never overlapping itself."""
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


def build_scheduler(jobs: list[tuple[str, Callable[[], None], float]]) -> BlockingScheduler:
    """A blocking scheduler running each ``(name, function, every_seconds)`` job, never overlapping itself."""
    scheduler = BlockingScheduler(timezone="UTC")
    add_interval_jobs(scheduler, jobs)
    return scheduler
