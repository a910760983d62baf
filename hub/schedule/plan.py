"""One source's next check after a crawl, its failure score and pause state (docs/architecture.md
step 3). Pure: the facts and the clock come in, the plan goes out; ``reschedule.py`` reads and writes
the rows.

- Rate: folded (``rate.fold_rate``) at every outcome; a source's first success seeds it.
- Failures: a failed crawl adds its class's weight to the score and starts (or continues) the
  failing streak; a feed without entries adds the soft weight but ends the streak (it answered); any
  other success clears both. A crawl we aborted ourselves changes neither.
- Pause: a source failing since ``pause_after_days`` ago is paused (a ``StatusChange`` names why) and
  from then on probed every ``probe_interval_s``; its first success resumes it.
- Next check: ``interval.py`` — rate interval clamped to the level, an active WebSub subscription's
  safety poll as a floor, backoff, what the source asked for, jitter. A "crawl now" that came in
  after this crawl started makes the source due again at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.health import reasons
from hub.health.reasons import Reason
from hub.schedule.failures import FailureClass, failure_class, is_empty, weight
from hub.schedule.hooks import StatusChange, status_change
from hub.schedule.interval import backoff_s, floor_s, jittered_s, level_bounds, rate_interval_s
from hub.schedule.rate import fold_rate
from hub.settings import ScheduleSettings

MESSAGE_MAX = 200  # of the last failure's message, quoted in a pause reason


@dataclass(frozen=True, slots=True)
class Facts:
    """What one crawl of a source said, and the source's schedule state before it."""

    source_id: int
    level: str
    kind: str
    status: str  # ok / not_modified / failed
    error_kind: str | None
    http_status: int | None
    items_seen: int
    message: str | None
    run_started_at: datetime
    entries_per_week: float = 0.0
    entries_rate_at: datetime | None = None
    entries_pending: int = 0
    feed_ttl_s: int | None = None
    max_age_s: int | None = None
    retry_after_until: datetime | None = None
    failure_score: float = 0.0
    failing_since: datetime | None = None
    paused_at: datetime | None = None
    pause_reason: str | None = None
    crawl_requested_at: datetime | None = None
    websub_poll_s: int | None = None  # an active WebSub subscription: poll no more often than this
    seed_rate: float | None = None  # first estimate from published dates (rate.seed_rate), if needed


@dataclass(frozen=True, slots=True)
class Plan:
    """The source's schedule state after the crawl."""

    source_id: int
    next_check_at: datetime
    interval_s: int  # before jitter (kept as check_interval_s)
    entries_per_week: float
    entries_rate_at: datetime | None
    entries_folded: int  # taken out of entries_pending
    failure_score: float
    failing_since: datetime | None
    paused_at: datetime | None
    pause_reason: str | None
    crawl_requested_at: datetime | None
    change: StatusChange | None = None


def _rate(facts: Facts, ok: bool, now: datetime, window_s: float) -> tuple[float, datetime | None, int]:
    if facts.entries_rate_at is not None:
        rate = fold_rate(facts.entries_per_week, facts.entries_rate_at, facts.entries_pending, now, window_s)
        return rate, now, facts.entries_pending
    if ok and facts.seed_rate is not None:
        # The first crawl's new items are the backlog: the published dates stand in for them.
        return facts.seed_rate, now, facts.entries_pending
    return facts.entries_per_week, None, 0


def _why(facts: Facts, since: datetime, now: datetime) -> Reason:
    """Why the source is paused, worded by hub/health/reasons.py (English) and the staff pages."""
    return Reason(
        reasons.PAUSED,
        {
            "days": round((now - since).total_seconds() / 86400, 1),
            "since": f"{since:%Y-%m-%d %H:%M}",
            "kind": facts.error_kind,
            "http": facts.http_status,
            "message": facts.message[:MESSAGE_MAX] if facts.message else None,
        },
    )


def plan_next_check(facts: Facts, policy: ScheduleSettings, now: datetime, rng: random.Random) -> Plan:
    """The source's next check and schedule state after the crawl ``facts`` describe."""
    ok = facts.status != "failed"
    window_s = policy.rate_window_days * 86400
    rate, rate_at, folded = _rate(facts, ok, now, window_s)

    score, failing_since = facts.failure_score, facts.failing_since
    if not ok:
        failure = failure_class(facts.error_kind, facts.http_status)
        if failure is not FailureClass.NONE:
            score += weight(failure, policy.failure_weights)
            failing_since = failing_since or now
    elif is_empty(facts.status, facts.kind, facts.items_seen):
        score += weight(FailureClass.SOFT, policy.failure_weights)
        failing_since = None
    else:
        score, failing_since = 0.0, None

    paused_at, reason = facts.paused_at, facts.pause_reason
    change: StatusChange | None = None
    if paused_at is not None and ok:
        paused_at, reason = None, None
        change = status_change(
            facts.source_id, "resumed", now, Reason(reasons.RESUMED_AFTER_CRAWL, {"status": facts.status})
        )
    elif (
        paused_at is None
        and not ok
        and failing_since is not None
        and now - failing_since >= timedelta(days=policy.pause_after_days)
    ):
        change = status_change(facts.source_id, "paused", now, _why(facts, failing_since, now))
        paused_at, reason = now, change.reason

    shortest, longest = level_bounds(policy.interval_bounds_s, facts.level)
    delay = rate_interval_s(rate, policy.checks_per_entry, shortest, longest)
    if facts.websub_poll_s:
        delay = max(delay, float(facts.websub_poll_s))
    delay = backoff_s(delay, score, policy.backoff_max_s)
    if paused_at is not None:
        delay = float(policy.probe_interval_s)
    retry_after = (facts.retry_after_until - now).total_seconds() if facts.retry_after_until else None
    floor = floor_s(
        facts.feed_ttl_s, facts.max_age_s, policy.hint_max_s, retry_after, policy.retry_after_max_s
    )
    delay = max(delay, floor)
    next_check_at = now + timedelta(seconds=jittered_s(delay, policy.jitter, rng, floor))

    requested = facts.crawl_requested_at
    if requested is not None and requested > facts.run_started_at:
        next_check_at = now  # asked for while this crawl was under way: crawl once more
    else:
        requested = None
    return Plan(
        source_id=facts.source_id,
        next_check_at=next_check_at,
        interval_s=round(delay),
        entries_per_week=rate,
        entries_rate_at=rate_at,
        entries_folded=folded,
        failure_score=score,
        failing_since=failing_since,
        paused_at=paused_at,
        pause_reason=reason,
        crawl_requested_at=requested,
        change=change,
    )
