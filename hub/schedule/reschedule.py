"""After a crawl run: each source's adaptive next check, failure score and pause state (step 3).

The crawl recorded one outcome per source (hub/crawlrecord.py) with a provisional next check; this
pass reads the run's outcomes with their sources in one SELECT, seeds the publication rate of
sources seen for the first time in one more, plans each source (``plan.py``, pure) and writes every
plan with one executemany UPDATE. A row is written only while no other worker holds a lease on it
(it may have been claimed again after a "crawl now"): that worker's own outcome decides then.
Pauses and resumptions go to the hooks the caller passes, in the same transaction.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from hub.crawlrecord import ABORTED_KIND
from hub.models import CrawlOutcome, CrawlRun, Item, Source, Unit, WebSubState, WebSubSubscription, core_table
from hub.schedule.hooks import StatusHook, notify
from hub.schedule.plan import Facts, Plan, plan_next_check
from hub.schedule.rate import seed_rate
from hub.settings import ScheduleSettings

ABORT_BACKOFF_S = 60  # the second abort in a row waits a minute, the third two, ...
MAX_ABORT_STREAK = 16  # 60 s * 2**14 is past any interval


@dataclass(slots=True)
class RescheduleSummary:
    """What one pass did."""

    sources: int = 0
    paused: int = 0
    resumed: int = 0


def _facts_rows(session: Session, run_id: int, now: datetime) -> Sequence[Any]:
    websub_active = (
        exists()
        .where(
            WebSubSubscription.source_id == Source.id, WebSubSubscription.state == WebSubState.ACTIVE.value
        )
        .label("websub_active")
    )
    query = (
        select(
            CrawlOutcome.source_id,
            CrawlOutcome.status,
            CrawlOutcome.error_kind,
            CrawlOutcome.http_status,
            CrawlOutcome.items_seen,
            CrawlOutcome.message,
            Unit.level,
            Source.kind,
            Source.entries_per_week,
            Source.entries_rate_at,
            Source.entries_pending,
            Source.feed_ttl_s,
            Source.max_age_s,
            Source.retry_after_until,
            Source.failure_score,
            Source.failing_since,
            Source.paused_at,
            Source.pause_reason,
            Source.crawl_requested_at,
            websub_active,
        )
        .join(Source, Source.id == CrawlOutcome.source_id)
        .join(Unit, Unit.id == Source.unit_id)
        .where(CrawlOutcome.run_id == run_id)
        .where(or_(Source.leased_until.is_(None), Source.leased_until <= now))
        .order_by(CrawlOutcome.id)
    )
    return session.execute(query).all()


def _seeds(session: Session, source_ids: list[int], now: datetime, window_s: float) -> dict[int, float]:
    """First rates of ``source_ids`` from their items' published dates (rate.seed_rate)."""
    if not source_ids:
        return {}
    cutoff = now - timedelta(seconds=window_s)
    recent = Item.published_at >= cutoff
    rows = session.execute(
        select(
            Item.source_id,
            func.count().filter(recent),
            func.min(Item.published_at).filter(recent),
            func.count().filter(Item.published_at < cutoff),
        )
        .where(Item.source_id.in_(source_ids), Item.published_at.is_not(None))
        .group_by(Item.source_id)
    ).all()
    found = {
        source_id: seed_rate(int(count), _aware(oldest), bool(older), now, window_s)
        for source_id, count, oldest, older in rows
    }
    return {source_id: found.get(source_id, 0.0) for source_id in source_ids}


def _aware(value: Any) -> datetime | None:
    # An aggregate's result skips the column type: SQLite hands back text, both hand back naive UTC.
    if value is None:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def plan_run(
    session: Session,
    run_id: int,
    policy: ScheduleSettings,
    now: datetime,
    rng: random.Random,
    websub_poll_s: int | None = None,
) -> list[Plan]:
    """The plans of every source of the run not leased again meanwhile (nothing written)."""
    started = session.scalar(select(CrawlRun.started_at).where(CrawlRun.id == run_id))
    if started is None:
        raise ValueError(f"unknown crawl run {run_id}")
    latest = {row.source_id: row for row in _facts_rows(session, run_id, now)}  # last outcome wins
    unseeded = [
        row.source_id for row in latest.values() if row.entries_rate_at is None and row.status != "failed"
    ]
    seeds = _seeds(session, unseeded, now, policy.rate_window_days * 86400)
    aborted = [row.source_id for row in latest.values() if row.error_kind == ABORTED_KIND]  # failed ones
    streaks = abort_streaks(session, aborted)
    plans = []
    for row in latest.values():
        facts = Facts(
            source_id=row.source_id,
            level=row.level,
            kind=row.kind,
            status=row.status,
            error_kind=row.error_kind,
            http_status=row.http_status,
            items_seen=row.items_seen or 0,
            message=row.message,
            run_started_at=started,
            entries_per_week=row.entries_per_week or 0.0,
            entries_rate_at=row.entries_rate_at,
            entries_pending=row.entries_pending or 0,
            feed_ttl_s=row.feed_ttl_s,
            max_age_s=row.max_age_s,
            retry_after_until=row.retry_after_until,
            failure_score=row.failure_score or 0.0,
            failing_since=row.failing_since,
            paused_at=row.paused_at,
            pause_reason=row.pause_reason,
            crawl_requested_at=row.crawl_requested_at,
            websub_poll_s=websub_poll_s if row.websub_active else None,
            seed_rate=seeds.get(row.source_id),
        )
        plan = plan_next_check(facts, policy, now, rng)
        if row.source_id in streaks:
            plan = _due_again(plan, row.retry_after_until, now, streaks[row.source_id])
        plans.append(plan)
    return plans


def abort_streaks(session: Session, source_ids: Sequence[int]) -> dict[int, int]:
    """For each source, how many of its latest outcomes in a row were aborted (at most MAX_ABORT_STREAK).
    Aborts are rare (a stopped worker, a dead crawl process), so one small query per source is fine."""
    streaks = {}
    for source_id in source_ids:
        kinds = session.scalars(
            select(CrawlOutcome.error_kind)
            .where(CrawlOutcome.source_id == source_id)
            .order_by(CrawlOutcome.id.desc())
            .limit(MAX_ABORT_STREAK)
        )
        streak = 0
        for kind in kinds:
            if kind != ABORTED_KIND:
                break
            streak += 1
        streaks[source_id] = max(streak, 1)
    return streaks


def abort_delay_s(streak: int, interval_s: int) -> int:
    """How long after its ``streak``-th abort in a row a source waits: nothing after the first (a stopped
    worker said nothing about it), then ABORT_BACKOFF_S doubling, never past its own interval. A source
    whose crawl kills the crawl process every time (a poison page) would otherwise be taken at once
    by every tick, and take down the sources sharing its process each time."""
    if streak <= 1:
        return 0
    return min(interval_s, ABORT_BACKOFF_S * 2 ** (streak - 2))


def _due_again(plan: Plan, retry_after_until: datetime | None, now: datetime, streak: int) -> Plan:
    """A crawl we aborted (worker stopped, crawl process killed) said nothing about the source: it is
    due again at once (after repeated aborts, after abort_delay_s), or when a pending Retry-After ends,
    instead of a whole interval later."""
    due = now + timedelta(seconds=abort_delay_s(streak, plan.interval_s))
    pending = _aware(retry_after_until)
    return replace(plan, next_check_at=max(due, pending) if pending is not None else due)


def write_plans(session: Session, plans: Iterable[Plan], now: datetime) -> int:
    """Write the plans in one executemany UPDATE; a source leased meanwhile is left alone."""
    table = core_table(Source)
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .where(or_(table.c.leased_until.is_(None), table.c.leased_until <= bindparam("b_now")))
        .values(
            next_check_at=bindparam("b_next"),
            check_interval_s=bindparam("b_interval"),
            entries_per_week=bindparam("b_rate"),
            entries_rate_at=bindparam("b_rate_at"),
            entries_pending=table.c.entries_pending - bindparam("b_folded"),
            failure_score=bindparam("b_score"),
            failing_since=bindparam("b_failing"),
            paused_at=bindparam("b_paused"),
            pause_reason=bindparam("b_reason"),
            crawl_requested_at=bindparam("b_requested"),
        )
    )
    params = [
        {
            "b_id": plan.source_id,
            "b_now": now,
            "b_next": plan.next_check_at,
            "b_interval": plan.interval_s,
            "b_rate": plan.entries_per_week,
            "b_rate_at": plan.entries_rate_at,
            "b_folded": plan.entries_folded,
            "b_score": plan.failure_score,
            "b_failing": plan.failing_since,
            "b_paused": plan.paused_at,
            "b_reason": plan.pause_reason,
            "b_requested": plan.crawl_requested_at,
        }
        for plan in plans
    ]
    if params:
        session.connection().execute(statement, params)
    return len(params)


def reschedule_run(
    session: Session,
    run_id: int,
    policy: ScheduleSettings,
    now: datetime,
    rng: random.Random,
    hooks: Sequence[StatusHook] = (),
    websub_poll_s: int | None = None,
) -> RescheduleSummary:
    """Give every source of the finished run ``run_id`` its adaptive next check; report pauses."""
    session.flush()
    plans = plan_run(session, run_id, policy, now, rng, websub_poll_s)
    write_plans(session, plans, now)
    changes = [plan.change for plan in plans if plan.change is not None]
    notify(session, hooks, changes)
    return RescheduleSummary(
        sources=len(plans),
        paused=sum(1 for change in changes if change.state == "paused"),
        resumed=sum(1 for change in changes if change.state == "resumed"),
    )
