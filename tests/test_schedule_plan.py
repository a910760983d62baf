"""Step 3: one source's next check after a crawl — weighted failures, backoff, pause after N days,
resume, Retry-After, crawl now (pure planning with an injected clock and a seeded RNG)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.schedule.failures import FailureClass, failure_class
from hub.schedule.plan import Facts, Plan, plan_next_check
from hub.settings import ScheduleSettings

HOUR = 3600
DAY = 24 * HOUR
T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
NO_JITTER = ScheduleSettings(jitter=0.0)


def facts(**changes: object) -> Facts:
    base = Facts(
        source_id=1,
        level="branch",
        kind="feed",
        status="ok",
        error_kind=None,
        http_status=200,
        items_seen=10,
        message=None,
        run_started_at=T0 - timedelta(minutes=1),
        entries_per_week=7.0,
        entries_rate_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def delay_s(plan: Plan, now: datetime) -> float:
    return (plan.next_check_at - now).total_seconds()


def after(state: Facts, plan: Plan, **outcome: object) -> Facts:
    """The facts of the next crawl of the same source, carrying the plan's state."""
    return replace(
        state,
        entries_per_week=plan.entries_per_week,
        entries_rate_at=plan.entries_rate_at,
        entries_pending=0,
        failure_score=plan.failure_score,
        failing_since=plan.failing_since,
        paused_at=plan.paused_at,
        pause_reason=plan.pause_reason,
        crawl_requested_at=plan.crawl_requested_at,
        **outcome,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("dns", None, FailureClass.HARD),
        ("http_4xx", 404, FailureClass.HARD),
        ("http_4xx", 410, FailureClass.HARD),
        ("tls", None, FailureClass.HARD),
        ("blocked_private", None, FailureClass.HARD),
        ("robots", None, FailureClass.HARD),
        ("parse_error", 200, FailureClass.SOFT),
        ("http_4xx", 418, FailureClass.SOFT),
        ("timeout", None, FailureClass.TEMPORARY),
        ("http_5xx", 503, FailureClass.TEMPORARY),
        ("rate_limited", 429, FailureClass.TEMPORARY),
        ("refused", None, FailureClass.TEMPORARY),
        ("aborted", None, FailureClass.NONE),
    ],
)
def test_failure_classes(kind: str, status: int | None, expected: FailureClass) -> None:
    assert failure_class(kind, status) is expected


def test_failures_weigh_by_class_and_back_off_exponentially() -> None:
    hard = facts(status="failed", error_kind="dns", http_status=None)
    temporary = facts(status="failed", error_kind="timeout", http_status=None)
    healthy = plan_next_check(facts(), NO_JITTER, T0, random.Random(1))
    one_hard = plan_next_check(hard, NO_JITTER, T0, random.Random(1))
    one_temp = plan_next_check(temporary, NO_JITTER, T0, random.Random(1))
    assert (one_hard.failure_score, one_temp.failure_score) == (1.0, 0.25)
    assert one_hard.failing_since == one_temp.failing_since == T0
    # 7 entries a week on a branch: every 12 h; one hard failure doubles it, a timeout adds 2**0.25.
    assert delay_s(healthy, T0) == pytest.approx(12 * HOUR)
    assert delay_s(one_hard, T0) == pytest.approx(24 * HOUR)
    assert delay_s(one_temp, T0) == pytest.approx(12 * HOUR * 2**0.25)
    # Each further failure grows the delay, up to the backoff cap; the streak keeps its start.
    policy = ScheduleSettings(jitter=0.0, backoff_max_s=10 * DAY)
    state, plan, now, delays = facts(level="city", entries_per_week=0.0), None, T0, []
    city = replace(state, status="failed", error_kind="http_4xx", http_status=404)
    for _ in range(6):
        plan = plan_next_check(city, policy, now, random.Random(1))
        delays.append(delay_s(plan, now))
        city = after(city, plan)
        now = plan.next_check_at
    assert delays == [2 * HOUR, 4 * HOUR, 8 * HOUR, 16 * HOUR, 32 * HOUR, 64 * HOUR]
    assert plan is not None and plan.failing_since == T0
    # A success clears the score and the streak: back to the source's own interval.
    healed = plan_next_check(after(city, plan, status="ok", error_kind=None), policy, now, random.Random(1))
    assert (healed.failure_score, healed.failing_since) == (0.0, None)
    assert delay_s(healed, now) == HOUR


def test_aborted_crawls_do_not_count_and_empty_feeds_are_soft() -> None:
    aborted = plan_next_check(
        facts(status="failed", error_kind="aborted", failure_score=1.0, failing_since=T0 - timedelta(days=1)),
        NO_JITTER,
        T0,
        random.Random(1),
    )
    assert (aborted.failure_score, aborted.failing_since) == (1.0, T0 - timedelta(days=1))
    empty = plan_next_check(facts(items_seen=0, failure_score=0.5), NO_JITTER, T0, random.Random(1))
    assert empty.failure_score == 1.0 and empty.failing_since is None  # it answered: no failing streak
    # A list page with nothing new is no failure at all.
    quiet_page = plan_next_check(facts(kind="html", items_seen=0), NO_JITTER, T0, random.Random(1))
    assert quiet_page.failure_score == 0.0


def test_paused_after_failing_for_n_days_then_probed_daily_and_resumed_by_a_success() -> None:
    policy = ScheduleSettings(jitter=0.0, pause_after_days=3, probe_interval_s=DAY)
    failing = facts(
        level="city", status="failed", error_kind="timeout", http_status=None, message="read timed out"
    )
    now, plan = T0, plan_next_check(failing, policy, T0, random.Random(1))
    state = after(failing, plan)
    pauses = []
    while now < T0 + timedelta(days=5):
        now = plan.next_check_at
        plan = plan_next_check(state, policy, now, random.Random(1))
        state = after(state, plan)
        if plan.change is not None:
            pauses.append(plan.change)
    # Exactly one pause, the first failed check at least 3 days into the streak.
    assert [change.state for change in pauses] == ["paused"]
    paused = pauses[0]
    assert paused.at - T0 >= timedelta(days=3)
    assert paused.at - T0 < timedelta(days=3) + timedelta(seconds=policy.backoff_max_s)
    assert (
        "timeout" in paused.reason
        and "read timed out" in paused.reason
        and "since 2024-06-01" in paused.reason
    )
    assert state.paused_at == paused.at and state.pause_reason == paused.reason
    # Paused: probed once a day, whatever the city level would ask for.
    probe = plan_next_check(state, policy, now, random.Random(1))
    assert delay_s(probe, now) == DAY and probe.change is None and probe.paused_at == state.paused_at
    # The probe succeeds: resumed, reported, back on the city schedule (at least hourly).
    resumed = plan_next_check(
        after(state, probe, status="ok", error_kind=None), policy, now, random.Random(1)
    )
    assert resumed.change is not None and resumed.change.state == "resumed"
    assert (resumed.paused_at, resumed.pause_reason, resumed.failure_score) == (None, None, 0.0)
    assert delay_s(resumed, now) <= HOUR


def test_retry_after_and_cache_hints_are_honoured() -> None:
    city = facts(level="city", entries_per_week=1000.0)  # would be checked every 15 minutes
    assert delay_s(plan_next_check(city, NO_JITTER, T0, random.Random(1)), T0) == 15 * 60
    limited = replace(
        city,
        status="failed",
        error_kind="rate_limited",
        http_status=429,
        retry_after_until=T0 + timedelta(hours=5),
    )
    assert delay_s(plan_next_check(limited, NO_JITTER, T0, random.Random(1)), T0) == 5 * HOUR
    # With jitter, never earlier than the Retry-After.
    jittery = ScheduleSettings(jitter=0.3)
    assert all(
        delay_s(plan_next_check(limited, jittery, T0, random.Random(seed)), T0) >= 5 * HOUR
        for seed in range(50)
    )
    # A feed <ttl> of 2 h or a max-age of 40 min lengthen the interval (even past the level's longest).
    assert (
        delay_s(plan_next_check(replace(city, feed_ttl_s=2 * HOUR), NO_JITTER, T0, random.Random(1)), T0)
        == 2 * HOUR
    )
    assert (
        delay_s(plan_next_check(replace(city, max_age_s=40 * 60), NO_JITTER, T0, random.Random(1)), T0)
        == 40 * 60
    )
    # ... but only up to hint_max_s: a week-long max-age cannot silence a city site.
    assert (
        delay_s(plan_next_check(replace(city, max_age_s=7 * DAY), NO_JITTER, T0, random.Random(1)), T0) == DAY
    )
    # An active WebSub subscription: polled only as a safety net.
    pushed = plan_next_check(replace(city, websub_poll_s=6 * HOUR), NO_JITTER, T0, random.Random(1))
    assert delay_s(pushed, T0) == 6 * HOUR


def test_jittered_plans_stay_within_bounds() -> None:
    policy = ScheduleSettings(jitter=0.1)
    delays = [delay_s(plan_next_check(facts(), policy, T0, random.Random(seed)), T0) for seed in range(200)]
    assert min(delays) >= 12 * HOUR * 0.9 and max(delays) <= 12 * HOUR * 1.1
    assert len(set(delays)) > 150
    assert all(
        plan_next_check(facts(), policy, T0, random.Random(seed)).interval_s == 12 * HOUR for seed in range(5)
    )


def test_rate_is_folded_and_a_new_source_is_seeded() -> None:
    # Pending new entries are folded into the rate and taken out of the counter.
    plan = plan_next_check(facts(entries_pending=3), NO_JITTER, T0, random.Random(1))
    assert plan.entries_folded == 3 and plan.entries_rate_at == T0 and plan.entries_per_week > 7.0
    # A new source: its first success seeds the rate, and its backlog is not counted as published now.
    new = facts(entries_per_week=0.0, entries_rate_at=None, entries_pending=20, seed_rate=27.0)
    seeded = plan_next_check(new, NO_JITTER, T0, random.Random(1))
    assert (seeded.entries_per_week, seeded.entries_rate_at, seeded.entries_folded) == (27.0, T0, 20)
    # Its first crawl failed: nothing to seed from yet.
    failed = plan_next_check(replace(new, status="failed", error_kind="dns"), NO_JITTER, T0, random.Random(1))
    assert (failed.entries_rate_at, failed.entries_folded) == (None, 0)


def test_crawl_now_during_the_crawl_makes_the_source_due_again() -> None:
    during = plan_next_check(
        facts(crawl_requested_at=T0 - timedelta(seconds=10)), NO_JITTER, T0, random.Random(1)
    )
    assert during.next_check_at == T0 and during.crawl_requested_at is not None
    before = plan_next_check(
        facts(crawl_requested_at=T0 - timedelta(hours=1)), NO_JITTER, T0, random.Random(1)
    )
    assert before.next_check_at > T0 and before.crawl_requested_at is None  # this crawl answered it
