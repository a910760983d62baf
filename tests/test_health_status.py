"""Health statuses from crawl outcomes and items over time (injected clock), the unit roll-up, the
events and their listeners, and the activity score (docs/health.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.crawlrecord import finish_run, record_outcome, start_run
from hub.db import Database
from hub.health.events import HealthChange, history
from hub.health.probe import ProbeResult
from hub.health.probestore import store_probe_results
from hub.health.score import UnitActivity, compute_score
from hub.health.sweep import SweepSummary, sweep
from hub.models import Item, ItemState, Source, SourceHealth, Unit, UnitHealthSummary, UnitScoreMonth
from hub.settings import HealthSettings, Settings
from tests.moderation_seed import add_unit

T0 = datetime(2024, 6, 3, 4, 0, tzinfo=UTC)


def add_source(session: Session, unit: Unit, name: str, kind: str = "feed") -> Source:
    source = Source(
        unit_id=unit.id, name=name, kind=kind, url=f"http://127.0.0.1:9/{name}.xml", created_at=T0
    )
    session.add(source)
    session.flush()
    return source


def add_items(
    session: Session, source: Source, days_ago: list[float], now: datetime, state: str = "pending"
) -> list[Item]:
    items = []
    for n, days in enumerate(days_ago):
        url = f"http://127.0.0.1:9/{source.name}/{now:%Y%m%d}-{n}-{days}.html"
        item = Item(
            source_id=source.id,
            unit_id=source.unit_id,
            url=url,
            canonical_url=url,
            title=f"通知{n}",
            content_hash=hashlib.sha256(url.encode()).hexdigest(),
            published_at=now - timedelta(days=days),
            first_seen_at=now,
            state=state,
        )
        session.add(item)
        items.append(item)
    session.flush()
    return items


def crawled(session: Session, source: Source, now: datetime, kind: str | None = None, seen: int = 5) -> None:
    """One crawl outcome of ``source`` at ``now``: ok with ``seen`` items, or failed with ``kind``."""
    run = start_run(session, "test", [source.id], now=now)
    if kind is None:
        record_outcome(session, run.id, source.id, "ok", items_seen=seen, now=now)
    else:
        status = 500 if kind == "http_5xx" else None
        record_outcome(session, run.id, source.id, "failed", kind, http_status=status, now=now)
    finish_run(session, run.id, now=now)


class Recorder:
    """A listener keeping every change it is handed."""

    def __init__(self) -> None:
        self.changes: list[HealthChange] = []

    def __call__(self, session: Session, change: HealthChange) -> None:
        assert session.is_active  # called inside the sweep's transaction
        self.changes.append(change)


@pytest.fixture
def world(database: Database) -> Iterator[dict[str, int]]:
    with database.session() as session:
        city = add_unit(session, "city", "city")
        district = add_unit(session, "east", "district", city)
        branch = add_unit(session, "east-b1", "branch", district)
        school = add_unit(session, "east-school", "branch", district)
        school.unit_type = "school"
        ids = {"city": city.id, "district": district.id, "branch": branch.id, "school": school.id}
        for name, unit in (("city-feed", city), ("branch-feed", branch), ("school-feed", school)):
            source = add_source(session, unit, name)
            add_items(session, source, [1, 3, 6, 9, 12, 20, 30, 45, 60, 75], T0)
            crawled(session, source, T0)
            ids[name] = source.id
    yield ids


def run_sweep(
    database: Database, settings: Settings, now: datetime, recorder: Recorder | None = None
) -> SweepSummary:
    with database.session() as session:
        return sweep(session, settings.health, settings.timezone, now, [recorder] if recorder else [])


def statuses(database: Database) -> dict[int, str]:
    with database.session() as session:
        return {
            source_id: status
            for source_id, status in session.execute(select(SourceHealth.source_id, SourceHealth.status))
        }


def unit_status(database: Database, unit_id: int) -> tuple[str, str]:
    with database.session() as session:
        row = session.get(UnitHealthSummary, unit_id)
        assert row is not None
        return row.status, row.reason


def test_freshness_by_level_and_type_over_time(
    database: Database, settings: Settings, world: dict[str, int]
) -> None:
    settings = settings.model_copy(
        update={"health": HealthSettings(stale_days={"city": 7, "branch": 30, "school": 60})}
    )
    recorder = Recorder()
    first = run_sweep(database, settings, T0, recorder)
    assert set(statuses(database).values()) == {"active"}
    assert all(change.first for change in first.changes) and len(recorder.changes) == len(first.changes)

    # 10 days later, nothing new: the city site (stale after 7 days) is stale, the branches are not.
    recorder.changes.clear()
    run_sweep(database, settings, T0 + timedelta(days=10), recorder)
    assert statuses(database)[world["city-feed"]] == "stale"
    assert statuses(database)[world["branch-feed"]] == "active"
    assert [(c.subject, c.from_status, c.to_status) for c in recorder.changes] == [
        ("source", "active", "stale"),
        ("unit", "active", "stale"),
    ]
    assert "no new item for 11 days" in recorder.changes[0].reason

    # 40 days: the branch (30) is stale; the school, by its unit type (60), is not stale yet, but
    # with nothing in 4 weeks after ten items in 12 it is slowing.
    run_sweep(database, settings, T0 + timedelta(days=40))
    assert statuses(database)[world["branch-feed"]] == "stale"
    assert statuses(database)[world["school-feed"]] == "slowing"
    # A year and more: dormant (the default 365 days for a branch).
    run_sweep(database, settings, T0 + timedelta(days=400))
    assert statuses(database)[world["branch-feed"]] == "dormant"
    with database.session() as session:
        trail = [
            (e.from_status, e.to_status) for e in reversed(history(session, source_id=world["branch-feed"]))
        ]
    assert trail == [(None, "active"), ("active", "stale"), ("stale", "dormant")]


def test_failures_extraction_and_recovery(
    database: Database, settings: Settings, world: dict[str, int]
) -> None:
    recorder = Recorder()
    run_sweep(database, settings, T0)
    source_id = world["branch-feed"]
    now = T0 + timedelta(hours=1)
    for kind, expected in (("http_5xx", "broken"), ("timeout", "unreachable"), ("rate_limited", "active")):
        with database.session() as session:
            source = session.get(Source, source_id)
            assert source is not None
            if kind == "rate_limited":  # the site asked us to wait: neither a failure nor a success
                crawled(session, source, now)
            crawled(session, source, now, kind)
        run_sweep(database, settings, now, recorder)
        assert statuses(database)[source_id] == expected, kind
    with database.session() as session:
        row = session.get(SourceHealth, source_id)
        assert row is not None and row.parse_ok is None  # a rate-limited crawl read nothing
    changes = [(c.from_status, c.to_status) for c in recorder.changes if c.source_id == source_id]
    assert changes == [("active", "broken"), ("broken", "unreachable"), ("unreachable", "active")]

    # The feed still answers but lists nothing any more: broken until items are found again.
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        crawled(session, source, now, seen=0)
    run_sweep(database, settings, now)
    assert statuses(database)[source_id] == "broken"
    with database.session() as session:
        row = session.get(SourceHealth, source_id)
        assert row is not None and row.extraction_failing and "found no items" in row.reason
        source = session.get(Source, source_id)
        assert source is not None
        crawled(session, source, now, seen=3)
    run_sweep(database, settings, now)
    assert statuses(database)[source_id] == "active"


def test_parse_error_is_broken_and_failures_threshold_is_a_setting(
    database: Database, settings: Settings, world: dict[str, int]
) -> None:
    settings = settings.model_copy(update={"health": HealthSettings(failures_for_status=2)})
    source_id = world["city-feed"]
    for expected in ("active", "broken"):  # the first failure is tolerated, the second is not
        with database.session() as session:
            source = session.get(Source, source_id)
            assert source is not None
            crawled(session, source, T0, "parse_error")
        run_sweep(database, settings, T0)
        assert statuses(database)[source_id] == expected
    with database.session() as session:
        row = session.get(SourceHealth, source_id)
        assert row is not None and row.parse_ok is False and "parse_error" in row.reason


def test_slowing_and_never_read(database: Database, settings: Settings, world: dict[str, int]) -> None:
    with database.session() as session:
        unit = session.get(Unit, world["branch"])
        assert unit is not None
        slowing = add_source(session, unit, "slowing-feed")
        # One item in the last 4 weeks, ten more 5 to 11 weeks ago.
        add_items(session, slowing, [5, *range(36, 80, 4)], T0)
        crawled(session, slowing, T0)
        never = add_source(session, unit, "never-feed")
        crawled(session, never, T0, "rate_limited")
    run_sweep(database, settings, T0)
    found = statuses(database)
    assert found[slowing.id] == "slowing" and found[never.id] == "unknown"
    # The unit is as lively as its liveliest source.
    assert unit_status(database, world["branch"])[0] == "active"


def test_unit_rolls_up_failures_only_when_nothing_can_be_read(
    database: Database, settings: Settings, world: dict[str, int]
) -> None:
    with database.session() as session:
        unit = session.get(Unit, world["branch"])
        assert unit is not None
        second = add_source(session, unit, "second-feed")
        crawled(session, second, T0, "http_5xx")
    run_sweep(database, settings, T0)
    status, reason = unit_status(database, world["branch"])
    assert status == "active" and "1 of 2 sources failing" in reason
    with database.session() as session:
        first = session.get(Source, world["branch-feed"])
        assert first is not None
        crawled(session, first, T0, "dns")
    run_sweep(database, settings, T0)
    assert unit_status(database, world["branch"])[0] == "broken"  # one of them still answers
    # A district without sources of its own has no status of its own.
    assert unit_status(database, world["district"]) == ("unknown", "no sources")


def test_score_method_and_monthly_snapshots(
    database: Database, settings: Settings, world: dict[str, int]
) -> None:
    # The worked example of docs/health.md.
    example = UnitActivity(
        level="branch",
        unit_type="community",
        items_12w=6,
        last_new_item_at=T0 - timedelta(days=12),
        sources=1,
        successes=27,
        attempts=30,
        window_items=6,
        window_originals=3,
        approved=4,
        decided=5,
    )
    health = HealthSettings()
    score = compute_score(example, health.score_weights, health.expected_per_week, health.stale_days, T0)
    assert {name: part["value"] for name, part in score.breakdown.items()} == {
        "frequency": 0.5,
        "timeliness": 0.6,
        "originality": 0.5,
        "availability": 0.9,
        "moderation": 0.8,
    }
    assert score.score == 65.0
    # Without moderation data the other weights are scaled up: 100 x 0.53 / 0.85.
    example.decided = example.approved = 0
    rescaled = compute_score(example, health.score_weights, health.expected_per_week, health.stale_days, T0)
    assert rescaled.score == 62.4 and rescaled.breakdown["moderation"]["points"] is None

    with database.session() as session:
        for item in session.scalars(select(Item).where(Item.source_id == world["city-feed"])):
            item.state = ItemState.APPROVED.value
    run_sweep(database, settings, T0)
    run_sweep(database, settings, T0 + timedelta(days=5))  # same month: the snapshot is replaced
    run_sweep(database, settings, T0 + timedelta(days=40))  # July
    with database.session() as session:
        months = session.execute(
            select(UnitScoreMonth.month, UnitScoreMonth.score).where(UnitScoreMonth.unit_id == world["city"])
        ).all()
        city = session.get(UnitHealthSummary, world["city"])
        assert city is not None and city.breakdown["moderation"]["value"] == 1.0
    assert [month for month, _ in months] == ["2024-06", "2024-07"]
    assert months[0][1] is not None and months[1][1] is not None and months[1][1] < months[0][1]


def test_originality_removed_items_and_probes_come_from_the_store(
    database: Database, settings: Settings
) -> None:
    """The database paths of the score and the signals: reposts lower originality, an item removed at
    source in the last 12 weeks is counted, stored probes count in availability (30-day window)."""
    with database.session() as session:
        unit = add_unit(session, "city", "city")
        source = add_source(session, unit, "city-feed")
        items = add_items(session, source, [1, 3, 6, 9, 12, 20], T0)
        for repost in items[3:]:  # three of six are reposts of the first
            repost.repost_of_id = items[0].id
        items[1].removed_at_source_at = T0 - timedelta(days=2)  # removed in the last 12 weeks
        items[2].removed_at_source_at = T0 - timedelta(weeks=13)  # removed before them: not counted
        crawled(session, source, T0 - timedelta(days=1))  # one crawl in the window, fine
        source_id, unit_id = source.id, unit.id
    run_sweep(database, settings, T0 - timedelta(days=60))  # the source's health row, for the probes
    probes = [
        (T0 - timedelta(days=45), ProbeResult("http://127.0.0.1:9/", True, 200)),  # outside the window
        (T0 - timedelta(days=3), ProbeResult("http://127.0.0.1:9/", False, error_kind="timeout")),
        (T0 - timedelta(days=2), ProbeResult("http://127.0.0.1:9/", True, 503, error_kind="http_5xx")),
        (T0 - timedelta(days=1), ProbeResult("http://127.0.0.1:9/", True, 200)),
    ]
    with database.session() as session:
        for at, result in probes:
            store_probe_results(session, [(source_id, result)], at, 86400)
    run_sweep(database, settings, T0)
    with database.session() as session:
        health = session.get(SourceHealth, source_id)
        summary = session.get(UnitHealthSummary, unit_id)
        assert health is not None and summary is not None
        assert health.removed_12w == 1
        # 1 crawl and 3 probes in 30 days; the crawl and the last probe succeeded.
        assert health.availability == 0.5
        assert summary.breakdown["availability"]["value"] == 0.5
        assert summary.breakdown["availability"]["detail"] == "2 of 4 crawls and probes succeeded"
        assert summary.breakdown["originality"]["value"] == 0.5
        assert summary.breakdown["originality"]["detail"] == "3 of 6 items are originals"
