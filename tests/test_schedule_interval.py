"""Step 3: the adaptive interval — publication rate, per-level bounds, backoff, what the source asked
for, jitter (pure functions, no clock)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from hub.schedule.headers import max_age_seconds, ttl_seconds
from hub.schedule.interval import WEEK_S, backoff_s, floor_s, jittered_s, level_bounds, rate_interval_s
from hub.schedule.rate import fold_rate, seed_rate
from hub.settings import ScheduleSettings

HOUR = 3600
DAY = 24 * HOUR
NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def test_interval_follows_the_publication_rate_between_the_bounds() -> None:
    # Once a day, two checks per expected gap: every 12 hours, inside a [1 h, 24 h] range.
    assert rate_interval_s(7.0, 2.0, HOUR, DAY) == pytest.approx(12 * HOUR)
    # Twice as many entries, half the interval.
    assert rate_interval_s(14.0, 2.0, HOUR, DAY) == pytest.approx(6 * HOUR)
    # A very lively source is held at the shortest, a silent one at the longest.
    assert rate_interval_s(10_000.0, 2.0, HOUR, DAY) == HOUR
    assert rate_interval_s(0.0, 2.0, HOUR, DAY) == DAY
    assert rate_interval_s(0.1, 2.0, HOUR, DAY) == DAY


def test_each_level_has_its_own_bounds() -> None:
    policy = ScheduleSettings()
    city, branch = (
        level_bounds(policy.interval_bounds_s, "city"),
        level_bounds(policy.interval_bounds_s, "branch"),
    )
    assert city == (15 * 60, HOUR)  # a city site is checked at least hourly
    assert branch == (HOUR, DAY)  # a branch at least daily
    # The same silent source: hourly as a city site, daily as a branch; the same lively one: 15 min vs 1 h.
    assert rate_interval_s(0.0, policy.checks_per_entry, *city) == HOUR
    assert rate_interval_s(0.0, policy.checks_per_entry, *branch) == DAY
    assert rate_interval_s(500.0, policy.checks_per_entry, *city) == 15 * 60
    assert rate_interval_s(500.0, policy.checks_per_entry, *branch) == HOUR
    # An unknown level is scheduled like a branch; a file may change one level only.
    assert level_bounds(policy.interval_bounds_s, "village") == branch
    changed = ScheduleSettings(interval_bounds_s={"city": (60, 600)})
    assert changed.interval_bounds_s["city"] == (60, 600)
    assert changed.interval_bounds_s["branch"] == branch


def test_settings_refuse_inverted_bounds_and_unknown_levels() -> None:
    with pytest.raises(ValueError):
        ScheduleSettings(interval_bounds_s={"city": (3600, 60)})
    with pytest.raises(ValueError):
        ScheduleSettings(interval_bounds_s={"town": (60, 3600)})
    with pytest.raises(ValueError):
        ScheduleSettings(failure_weights={"fatal": 3.0})


def test_ttl_max_age_and_retry_after_raise_the_delay_up_to_their_caps() -> None:
    # The longest of <ttl> and max-age, capped at hint_max_s; Retry-After capped at its own maximum.
    assert floor_s(2 * HOUR, 30 * 60, DAY, None, 7 * DAY) == 2 * HOUR
    assert floor_s(None, 3 * HOUR, DAY, None, 7 * DAY) == 3 * HOUR
    assert floor_s(30 * DAY, None, DAY, None, 7 * DAY) == DAY
    assert floor_s(None, None, DAY, 5 * HOUR, 7 * DAY) == 5 * HOUR
    assert floor_s(None, None, DAY, 90 * DAY, 7 * DAY) == 7 * DAY
    assert floor_s(None, None, DAY, -30.0, 7 * DAY) == 0  # a Retry-After already past
    assert floor_s(None, None, DAY, None, 7 * DAY) == 0


def test_header_values_become_seconds() -> None:
    assert max_age_seconds("public, max-age=600") == 600
    assert max_age_seconds('max-age="120", must-revalidate') == 120
    assert max_age_seconds("no-cache") == 0
    assert max_age_seconds("private") is None
    assert max_age_seconds("max-age=soon") is None
    assert max_age_seconds(None) is None
    assert ttl_seconds("60") == 3600  # RSS <ttl> is in minutes
    assert ttl_seconds(" 15 ") == 900
    assert ttl_seconds("an hour") is None
    assert ttl_seconds(None) is None


def test_jitter_stays_within_its_share_and_never_below_the_floor() -> None:
    rng = random.Random(7)
    values = [jittered_s(1000.0, 0.1, rng) for _ in range(2000)]
    assert min(values) >= 900.0 and max(values) <= 1100.0
    assert max(values) - min(values) > 150  # it does spread sources out
    assert len({round(value) for value in values}) > 100
    # The floor (a Retry-After) is never undercut, whatever the draw.
    assert all(jittered_s(1000.0, 0.1, rng, floor=1000.0) >= 1000.0 for _ in range(500))
    # The same seed gives the same schedule (tests and reproducible runs).
    assert jittered_s(500.0, 0.2, random.Random(3)) == jittered_s(500.0, 0.2, random.Random(3))
    assert jittered_s(500.0, 0.0, rng) == 500.0


def test_backoff_doubles_per_point_of_score_up_to_its_cap() -> None:
    assert backoff_s(HOUR, 0.0, DAY) == HOUR
    assert backoff_s(HOUR, 1.0, DAY) == 2 * HOUR
    assert backoff_s(HOUR, 3.0, DAY) == 8 * HOUR
    assert backoff_s(HOUR, 0.5, DAY) == pytest.approx(HOUR * 2**0.5)
    assert backoff_s(HOUR, 5.0, DAY) == DAY
    assert backoff_s(HOUR, 1e6, DAY) == DAY  # no overflow after years of failures
    # Backing off never shortens an interval already above the cap.
    assert backoff_s(2 * DAY, 4.0, DAY) == 2 * DAY


def test_rate_is_a_moving_average_of_new_entries_per_week() -> None:
    window = 28 * DAY
    # A steady 14 entries a week, folded daily, settles at 14/week.
    rate, at = 0.0, NOW
    for day in range(1, 200):
        when = NOW + timedelta(days=day)
        rate, at = fold_rate(rate, at, 2, when, window), when
    assert rate == pytest.approx(14.0, rel=0.03)
    # It stops publishing: one window later the rate is down to ~1/e, three windows later ~5 %.
    assert fold_rate(rate, at, 0, at + timedelta(days=28), window) == pytest.approx(rate / 2.718, rel=0.01)
    assert fold_rate(rate, at, 0, at + timedelta(days=84), window) < 0.06 * rate
    # One entry counts WEEK/window: 0.25 a week for a four-week window.
    assert fold_rate(0.0, NOW, 1, NOW, window) == pytest.approx(WEEK_S / window)


def test_first_rate_from_published_dates() -> None:
    window = 28 * DAY
    # A feed of its last 20 entries spread over 5 days (older ones not listed): ~27 a week.
    assert seed_rate(20, NOW - timedelta(days=5), False, NOW, window) == pytest.approx(19 / 5 * 7)
    # Entries older than the window are listed too: the whole window was seen, 6 in 4 weeks.
    assert seed_rate(6, NOW - timedelta(days=20), True, NOW, window) == pytest.approx(1.5)
    # Nothing in the window (a branch stale for months): zero.
    assert seed_rate(0, None, True, NOW, window) == 0.0
    # Two entries an hour apart do not make 168 a week: the span is at least a day.
    assert seed_rate(2, NOW - timedelta(hours=1), False, NOW, window) == pytest.approx(7.0)
