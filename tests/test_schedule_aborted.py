"""A crawl we aborted (the worker stopped, its crawl process died) says nothing about the source: it is due
again at once, both by the provisional next check of the outcome (hub/crawlrecord.py, what ``xinlian
crawl`` and a stopped worker leave) and by the worker's reschedule (hub/schedule/reschedule.py), not a
whole interval later (issue 8). Clock injected, RNG seeded, nothing sleeps."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hub.crawlrecord import finish_run, record_outcome, start_run
from hub.db import Database
from hub.models import Source, Unit
from hub.schedule.reschedule import reschedule_run
from hub.scheduler import claim_due_sources
from hub.settings import ScheduleSettings

T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
POLICY = ScheduleSettings(jitter=0.0)


def _sources(database: Database, count: int) -> list[int]:
    with database.session() as session:
        unit = Unit(slug="branch", name="支部", level="branch", path="/")
        session.add(unit)
        session.flush()
        sources = [
            Source(
                unit_id=unit.id,
                name=f"s{n}",
                kind="feed",
                url=f"http://s{n}.test/feed.xml",
                check_interval_s=86400,
            )
            for n in range(count)
        ]
        session.add_all(sources)
        session.flush()
        return [source.id for source in sources]


def _next_checks(database: Database, ids: list[int]) -> list[datetime | None]:
    with database.session() as session:
        return [session.get(Source, source_id).next_check_at for source_id in ids]  # type: ignore[union-attr]


def test_an_aborted_source_is_due_again_at_once(database: Database) -> None:
    aborted, ok, failed = _sources(database, 3)
    done = T0 + timedelta(seconds=30)
    with database.session() as session:
        assert set(claim_due_sources(session, limit=10, per_host_cap=10, lease_s=900, now=T0)) == {
            aborted,
            ok,
            failed,
        }
        run = start_run(session, "scheduler", [aborted, ok, failed], now=T0)
        record_outcome(session, run.id, ok, "ok", items_seen=3, now=done)
        record_outcome(session, run.id, failed, "failed", "timeout", now=done)
        # The worker stopped: the runner closes the run, the unfinished source recorded as aborted.
        finish_run(session, run.id, [aborted, ok, failed], now=done)
        run_id = run.id
    # The provisional next check (all `xinlian crawl` leaves): aborted now, the others a day ahead.
    assert _next_checks(database, [aborted, ok, failed]) == [
        done,
        done + timedelta(days=1),
        done + timedelta(days=1),
    ]
    with database.session() as session:
        source = session.get(Source, aborted)
        assert source is not None and source.leased_until is None and source.failure_score == 0.0
        reschedule_run(session, run_id, POLICY, done, random.Random(1))
    # The adaptive one: the aborted source still due at once; the others a branch's interval away.
    aborted_at, ok_at, failed_at = _next_checks(database, [aborted, ok, failed])
    assert aborted_at == done
    assert ok_at is not None and failed_at is not None and min(ok_at, failed_at) >= done + timedelta(hours=12)
    with database.session() as session:  # and the next claim takes it again
        assert claim_due_sources(session, limit=10, per_host_cap=10, lease_s=900, now=done) == [aborted]


def test_an_aborted_source_keeps_a_pending_retry_after(database: Database) -> None:
    (limited,) = _sources(database, 1)
    with database.session() as session:
        claim_due_sources(session, limit=10, per_host_cap=10, lease_s=900, now=T0)
        first = start_run(session, "scheduler", [limited], now=T0)
        record_outcome(session, first.id, limited, "failed", "rate_limited", 429, retry_after_s=3600, now=T0)
        # Crawled again ("crawl now") and aborted while the Retry-After still runs.
        second = start_run(session, "scheduler", [limited], now=T0 + timedelta(minutes=5))
        finish_run(session, second.id, [limited], now=T0 + timedelta(minutes=6))
    assert _next_checks(database, [limited]) == [T0 + timedelta(hours=1)]
    with database.session() as session:
        reschedule_run(session, second.id, POLICY, T0 + timedelta(minutes=6), random.Random(1))
    assert _next_checks(database, [limited]) == [T0 + timedelta(hours=1)]


def test_repeated_aborts_back_off_and_a_finished_crawl_resets_them(database: Database) -> None:
    """A source whose crawl kills its crawl process every time (a poison page) must not be taken by every
    tick: the first abort is due at once, the next ones after 1, 2, 4 ... minutes, never past the
    source's interval; a crawl that finishes starts the count again."""
    poison, bystander = _sources(database, 2)
    now = T0
    waits = []
    for _ in range(5):
        with database.session() as session:
            claim_due_sources(session, limit=10, per_host_cap=10, lease_s=900, now=now)
            run = start_run(session, "scheduler", [poison, bystander], now=now)
            record_outcome(session, run.id, bystander, "ok", items_seen=3, now=now)
            finish_run(session, run.id, [poison, bystander], now=now)  # the process died on poison
            reschedule_run(session, run.id, POLICY, now, random.Random(1))
        (due,) = _next_checks(database, [poison])
        assert due is not None
        waits.append((due - now).total_seconds())
        now = due
    assert waits == [0, 60, 120, 240, 480]
    with database.session() as session:  # many more aborts: never longer than the interval itself
        for _ in range(12):
            run = start_run(session, "scheduler", [poison], now=now)
            finish_run(session, run.id, [poison], now=now)
        reschedule_run(session, run.id, POLICY, now, random.Random(1))
        source = session.get(Source, poison)
        assert source is not None
        interval = source.check_interval_s
    (due,) = _next_checks(database, [poison])
    assert due is not None and (due - now).total_seconds() == interval <= 86400
    with database.session() as session:  # it finishes once: the next abort is due at once again
        run = start_run(session, "scheduler", [poison], now=now)
        record_outcome(session, run.id, poison, "ok", items_seen=1, now=now)
        finish_run(session, run.id, [poison], now=now)
        again = start_run(session, "scheduler", [poison], now=now)
        finish_run(session, again.id, [poison], now=now)
        reschedule_run(session, again.id, POLICY, now, random.Random(1))
    assert _next_checks(database, [poison]) == [now]
