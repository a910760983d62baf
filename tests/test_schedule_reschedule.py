"""Step 3 in the store: after a crawl run every source gets its adaptive next check; failing sources
are backed off, paused after N days (reported to the hooks), probed slowly and resumed by a success;
"crawl now" makes a source due and lifts its pause. Clock injected, RNG seeded, nothing sleeps."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from hub.crawlrecord import record_outcome, start_run
from hub.db import Database
from hub.health.events import history
from hub.models import Item, Source, Unit, WebSubState, WebSubSubscription
from hub.schedule.crawlnow import crawl_now
from hub.schedule.hooks import StatusChange, record_health_event
from hub.schedule.reschedule import reschedule_run
from hub.scheduler import claim_due_sources
from hub.settings import ScheduleSettings

HOUR = 3600
DAY = 24 * HOUR
T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
POLICY = ScheduleSettings(jitter=0.0, pause_after_days=3)


class Recorder:
    """A status hook keeping what it was told (as hub/health's event writer would, in the session)."""

    def __init__(self) -> None:
        self.changes: list[StatusChange] = []

    def __call__(self, session: Session, change: StatusChange) -> None:
        assert session.get(Source, change.source_id) is not None  # called inside the transaction
        self.changes.append(change)


def _units_and_sources(database: Database, levels: list[str]) -> list[int]:
    with database.session() as session:
        ids = []
        for n, level in enumerate(levels):
            unit = Unit(slug=f"u{n}", name=f"单位{n}", level=level, path="/")
            session.add(unit)
            session.flush()
            source = Source(unit_id=unit.id, name=f"s{n}", kind="feed", url=f"http://s{n}.test/feed.xml")
            session.add(source)
            session.flush()
            ids.append(source.id)
        return ids


def _crawl(
    database: Database,
    outcomes: dict[int, dict[str, object]],
    now: datetime,
    hooks: list[Recorder] | None = None,
    policy: ScheduleSettings = POLICY,
) -> None:
    """Claim, record the given outcomes (as a crawl would) and reschedule, all at ``now``."""
    with database.session() as session:
        claimed = claim_due_sources(session, limit=100, per_host_cap=100, lease_s=900, now=now)
        assert set(outcomes) <= set(claimed), "the sources should have been due"
        run = start_run(session, "scheduler", list(outcomes), now=now)
        for source_id, outcome in outcomes.items():
            status = str(outcome.pop("status", "ok"))
            record_outcome(session, run.id, source_id, status, now=now + timedelta(seconds=30), **outcome)  # type: ignore[arg-type]
        reschedule_run(session, run.id, policy, now + timedelta(seconds=31), random.Random(5), hooks or [])


def _source(database: Database, source_id: int) -> Source:
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        session.expunge(source)
        return source


def test_levels_rates_and_failures_set_the_next_checks(database: Database) -> None:
    city, branch, broken = _units_and_sources(database, ["city", "branch", "branch"])
    _crawl(
        database,
        {
            city: {"items_seen": 5, "items_new": 5},
            branch: {"items_seen": 3},
            broken: {"status": "failed", "error_kind": "dns", "message": "no such host"},
        },
        T0,
    )
    done = T0 + timedelta(seconds=31)
    # First crawls, no published dates: no rate yet, so each level's longest interval (and backoff).
    c, b, x = (_source(database, source_id) for source_id in (city, branch, broken))
    assert c.next_check_at == done + timedelta(hours=1) and c.check_interval_s == HOUR
    assert b.next_check_at == done + timedelta(days=1)
    assert (x.failure_score, x.failing_since, x.consecutive_failures) == (1.0, done, 1)
    assert x.next_check_at == done + timedelta(days=1)  # backoff capped at backoff_max_s
    # The rate estimate started; the first crawl's new items were the backlog, folded away.
    assert (c.entries_rate_at, c.entries_pending) == (done, 0)
    assert x.entries_rate_at is None
    assert (c.leased_until, x.leased_until) == (None, None)


def test_a_new_source_rate_is_seeded_from_published_dates(database: Database) -> None:
    (district,) = _units_and_sources(database, ["district"])
    with database.session() as session:
        source = session.get(Source, district)
        assert source is not None
        for n in range(11):  # 11 notices over the last 5 days: 10 gaps in 5 days, 14 a week
            session.add(
                Item(
                    source_id=district,
                    unit_id=source.unit_id,
                    url=f"http://s0.test/{n}.html",
                    canonical_url=f"http://s0.test/{n}.html",
                    title=f"通知{n}",
                    content_hash=f"{n:064d}",
                    published_at=T0 - timedelta(hours=12 * n),
                )
            )
    _crawl(database, {district: {"items_seen": 11, "items_new": 11}}, T0)
    source = _source(database, district)
    assert abs(source.entries_per_week - 14.0) < 0.01
    # 14 a week, two checks per gap: every 6 hours, the district's longest.
    assert source.check_interval_s == 6 * HOUR
    # A week later, 28 more entries were found: the rate rises and the interval shrinks.
    later = T0 + timedelta(days=7)
    with database.session() as session:
        row = session.get(Source, district)
        assert row is not None
        row.next_check_at = later
    _crawl(database, {district: {"items_seen": 20, "items_new": 28}}, later)
    faster = _source(database, district)
    assert faster.entries_per_week > 14.0 and faster.check_interval_s < 6 * HOUR
    assert faster.entries_pending == 0


def test_failing_for_n_days_pauses_then_a_successful_probe_resumes(database: Database) -> None:
    (city,) = _units_and_sources(database, ["city"])
    recorder = Recorder()
    now = T0
    checks = 0
    while _source(database, city).paused_at is None:
        _crawl(
            database,
            {city: {"status": "failed", "error_kind": "timeout", "message": "read timed out"}},
            now,
            [recorder],
        )
        now = _source(database, city).next_check_at  # type: ignore[assignment]
        checks += 1
        assert checks < 100
    paused = _source(database, city)
    assert [change.state for change in recorder.changes] == ["paused"]
    assert paused.paused_at is not None and paused.paused_at - T0 >= timedelta(days=3)
    assert paused.pause_reason is not None and "timeout" in paused.pause_reason
    # Paused sources are still claimed when due, on the slow probe schedule.
    assert paused.next_check_at == paused.paused_at + timedelta(days=1)
    _crawl(database, {city: {"status": "failed", "error_kind": "timeout"}}, now, [recorder])
    still = _source(database, city)
    assert still.paused_at == paused.paused_at and still.pause_reason == paused.pause_reason
    assert len(recorder.changes) == 1  # reported once, not at every probe
    # The next probe succeeds: resumed, reported, back to the city's hourly checks.
    now = still.next_check_at  # type: ignore[assignment]
    _crawl(database, {city: {"status": "not_modified", "http_status": 304}}, now, [recorder])
    resumed = _source(database, city)
    assert [change.state for change in recorder.changes] == ["paused", "resumed"]
    with database.session() as session:  # the history the health dashboard shows
        for change in recorder.changes:
            record_health_event(session, change)
        rows = list(reversed(history(session, source_id=city)))
        events = [(e.from_status, e.to_status) for e in rows]
        keys = [(e.reason_data or {}).get("key") for e in rows]
    assert events == [("scheduled", "paused"), ("paused", "scheduled")]
    # Each keeps its reason's key and values beside the English sentence (worded on the staff pages).
    assert keys == ["paused", "resumed_after_crawl"]
    assert rows[0].reason == paused.pause_reason and rows[0].reason_data is not None
    assert rows[0].reason_data["args"]["kind"] == "timeout" and rows[0].reason_data["args"]["days"] >= 3
    assert rows[1].reason == "a crawl succeeded (not_modified)"
    assert (resumed.paused_at, resumed.pause_reason, resumed.failure_score, resumed.failing_since) == (
        None,
        None,
        0.0,
        None,
    )
    assert resumed.next_check_at is not None and resumed.next_check_at - now <= timedelta(hours=1, seconds=31)


def test_retry_after_is_kept_past_the_crawl(database: Database) -> None:
    (city,) = _units_and_sources(database, ["city"])
    _crawl(
        database,
        {
            city: {
                "status": "failed",
                "error_kind": "rate_limited",
                "http_status": 429,
                "retry_after_s": 5 * HOUR,
            }
        },
        T0,
    )
    source = _source(database, city)
    assert source.retry_after_until == T0 + timedelta(seconds=30) + timedelta(hours=5)
    assert source.next_check_at == source.retry_after_until  # not the 15 min-1 h of a city site
    # ttl and max-age recorded with an outcome lengthen the next interval.
    with database.session() as session:
        row = session.get(Source, city)
        assert row is not None
        row.next_check_at = T0 + timedelta(hours=6)
    _crawl(database, {city: {"ttl_s": 3 * HOUR, "max_age_s": 600}}, T0 + timedelta(hours=6))
    source = _source(database, city)
    assert (source.feed_ttl_s, source.max_age_s, source.retry_after_until) == (3 * HOUR, 600, None)
    assert source.check_interval_s == 3 * HOUR


def test_an_active_websub_subscription_keeps_polling_slow(database: Database) -> None:
    (city,) = _units_and_sources(database, ["city"])
    with database.session() as session:
        session.add(
            WebSubSubscription(
                source_id=city,
                hub_url="http://hub.test/",
                topic="http://s0.test/feed.xml",
                secret="s",
                callback_token="t" * 32,
                state=WebSubState.ACTIVE.value,
            )
        )
    with database.session() as session:
        run = start_run(session, "scheduler", [city], now=T0)
        record_outcome(session, run.id, city, "ok", items_seen=3, now=T0)
        reschedule_run(session, run.id, POLICY, T0, random.Random(1), websub_poll_s=6 * HOUR)
    assert _source(database, city).next_check_at == T0 + timedelta(hours=6)


def test_a_source_leased_again_is_left_to_its_new_worker(database: Database) -> None:
    (city,) = _units_and_sources(database, ["city"])
    with database.session() as session:
        run = start_run(session, "scheduler", [city], now=T0)
        record_outcome(session, run.id, city, "ok", items_seen=3, now=T0)
    with database.session() as session:  # crawl now, and another worker takes it at once
        crawl_now(session, [city], "admin", T0 + timedelta(seconds=1))
    with database.session() as session:
        assert claim_due_sources(session, 10, 10, 900, now=T0 + timedelta(seconds=2), owner="w2") == [city]
    with database.session() as session:
        summary = (
            reschedule_run(session, run, POLICY, T0 + timedelta(seconds=3), random.Random(1))
            if False
            else None
        )
        summary = reschedule_run(session, run.id, POLICY, T0 + timedelta(seconds=3), random.Random(1))
    assert summary.sources == 0
    source = _source(database, city)
    assert (source.lease_owner, source.next_check_at) == ("w2", T0 + timedelta(seconds=902))


def test_crawl_now_lifts_a_pause_and_reports_it(database: Database) -> None:
    city, other = _units_and_sources(database, ["city", "branch"])
    with database.session() as session:
        source = session.get(Source, city)
        assert source is not None
        source.paused_at, source.pause_reason = T0, "failing for 7.0 days"
        source.next_check_at = T0 + timedelta(days=1)
        session.get(Source, other).enabled = False  # type: ignore[union-attr]
    recorder = Recorder()
    now = T0 + timedelta(hours=2)
    with database.session() as session:
        done = crawl_now(session, [city, other], "alice", now, [recorder])
    assert [(entry.source_id, entry.enabled, entry.resumed) for entry in done] == [
        (city, True, True),
        (other, False, False),
    ]
    assert [(change.state, change.reason, change.reason_data) for change in recorder.changes] == [
        ("resumed", "crawl now requested by alice", {"key": "resumed_on_request", "args": {"actor": "alice"}})
    ]
    source = _source(database, city)
    assert (source.paused_at, source.next_check_at, source.crawl_requested_at) == (None, now, now)
    with database.session() as session:
        assert claim_due_sources(session, 10, 10, 900, now=now) == [city]  # the disabled one stays out
