"""The crawl ledger's batch writer (hub/outcomebatch.py) writes the same rows as record_outcome (ORM).

Each case is written both ways from the same stored state, each in a transaction rolled back
afterwards, and every column of the outcome rows and of the sources is compared.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from hub.crawlrecord import MESSAGE_MAX, Outcome, record_outcome, start_run
from hub.db import Database
from hub.fetchstats import FetchStats
from hub.models import CrawlOutcome, Source, Unit, core_table
from hub.outcomebatch import record_outcomes

NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=2)
MOVED_AFTER = 3
TARGET = "http://e.cn/new.xml"


def _stats(**changes: Any) -> FetchStats:
    stats = FetchStats(requests=2, bytes_received=5120, moved_after=MOVED_AFTER)
    stats.count_status(200)
    stats.count_status(304)
    stats.count_failure("timeout")
    for name, value in changes.items():
        setattr(stats, name, value)
    return stats


# name: (the source's stored columns, record_outcome's keyword arguments)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ok": (
        {"body_hash": "old", "feed_ttl_s": 60, "entries_pending": 2},
        {"status": "ok", "http_status": 200, "items_seen": 5, "items_new": 3, "items_updated": 1,
         "items_removed": 1, "duration_ms": 250, "etag": '"e' + "x" * 400 + '"', "last_modified": "L" * 150,
         "body_hash": "a" * 64, "ttl_s": 1800, "max_age_s": 300, "fetch": _stats(items_unchanged=1)},
    ),
    "not_modified": (
        {"etag": '"old"', "consecutive_failures": 2, "last_error_kind": "timeout", "last_error": "slow",
         "max_age_s": 90, "feed_ttl_s": 600, "body_hash": "kept"},
        {"status": "not_modified", "http_status": 304, "etag": '"old"', "fetch": _stats()},
    ),
    "failed": (
        {"consecutive_failures": 1, "total_failures": 4, "etag": '"keep"', "max_age_s": 90},
        {"status": "failed", "error_kind": "http_5xx", "http_status": 500, "etag": '"ignored"',
         "message": "m" * (MESSAGE_MAX + 50), "body_hash": "ignored", "fetch": _stats()},
    ),
    "aborted": (
        {"retry_after_until": NOW + timedelta(minutes=5), "entries_pending": 4},
        {"status": "failed", "error_kind": "aborted", "message": "the crawl was stopped"},
    ),
    "rate_limited": (
        {"retry_after_until": EARLIER},
        {"status": "failed", "error_kind": "rate_limited", "http_status": 429, "retry_after_s": 7200.0,
         "fetch": _stats()},
    ),
    "moved": (
        {"etag": '"old"', "last_modified": "old", "moved_to_url": TARGET, "moved_count": MOVED_AFTER - 1},
        {"status": "ok", "http_status": 200, "etag": '"new"', "fetch": _stats(
            moved_to=TARGET, redirects=[{"status": 301, "url": "http://e.cn/moved.xml", "to": TARGET}])},
    ),
    # The same target in the same batch: the first source took it, this one stays and counts on.
    "moved_too": (
        {"moved_to_url": TARGET, "moved_count": MOVED_AFTER - 1},
        {"status": "not_modified", "http_status": 304, "fetch": _stats(moved_to=TARGET)},
    ),
    "redirect_counted": (
        {"moved_to_url": "http://e.cn/elsewhere.xml", "moved_count": 2},
        {"status": "ok", "http_status": 200, "fetch": _stats(moved_to="http://e.cn/other.xml")},
    ),
    "redirect_gone": (
        {"moved_to_url": "http://e.cn/elsewhere.xml", "moved_count": 2},
        {"status": "ok", "http_status": 200, "fetch": _stats()},
    ),
    "account": (
        {"url": "bridge://weibo/1001", "moved_to_url": None, "moved_count": 0},
        {"status": "failed", "error_kind": "http_5xx", "http_status": 502, "fetch": _stats(
            moved_to="http://bridge/weibo/user/2?key=secret",
            redirects=[{"status": 301, "url": "http://bridge/weibo/user/1?key=secret&a=1",
                        "to": "http://bridge/weibo/user/2?key=secret"}])},
    ),
    "body_hash_cleared": (
        {"body_hash": "b" * 64, "etag": '"old"'},
        {"status": "ok", "http_status": 200, "items_seen": 2, "items_new": 1, "body_hash": "",
         "message": "1 item(s) could not be stored"},
    ),
    "no_fetch_stats": (
        {},
        {"status": "not_modified", "http_status": 304},
    ),
}  # fmt: skip


def _setup(database: Database) -> tuple[int, dict[str, int]]:
    """The cases' sources (leased, as a crawl finds them) and a run; returns the run id and source ids."""
    with database.session() as session:
        unit = Unit(slug="city", name="市", level="city")
        session.add(unit)
        session.flush()
        ids: dict[str, int] = {}
        for name, (stored, _) in CASES.items():
            columns = {"url": f"http://e.cn/{name}.xml", "check_interval_s": 900, "leased_until": NOW,
                       "lease_owner": "host:1", "last_success_at": EARLIER, "next_check_at": EARLIER,
                       **stored}  # fmt: skip
            source = Source(unit_id=unit.id, name=name, kind="feed", **columns)
            session.add(source)
            session.flush()
            ids[name] = source.id
        run = start_run(session, "test", ids.values(), now=NOW)
        return run.id, ids


def _rows(session: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sources = core_table(Source)
    outcomes = core_table(CrawlOutcome)
    source_rows = [dict(row._mapping) for row in session.execute(select(sources).order_by(sources.c.id))]
    outcome_rows = [
        {key: value for key, value in row._mapping.items() if key != "id"}
        for row in session.execute(select(outcomes).order_by(outcomes.c.source_id))
    ]
    return source_rows, outcome_rows


def _written(database: Database, write: Callable[[Session], None]) -> tuple[list[Any], list[Any]]:
    with database.sessions() as session:
        write(session)
        rows = _rows(session)
        session.rollback()
    return rows


def test_batch_writer_and_orm_writer_write_the_same_rows(database: Database) -> None:
    run_id, ids = _setup(database)

    def orm(session: Session) -> None:
        for name, (_, arguments) in CASES.items():
            record_outcome(session, run_id, ids[name], now=NOW, **arguments)

    def batch(session: Session) -> None:
        record_outcomes(
            session,
            [Outcome(run_id=run_id, source_id=ids[name], finished_at=NOW, **arguments)
             for name, (_, arguments) in CASES.items()],
        )  # fmt: skip

    orm_sources, orm_outcomes = _written(database, orm)
    batch_sources, batch_outcomes = _written(database, batch)
    assert batch_outcomes == orm_outcomes
    assert batch_sources == orm_sources

    # The cases do what they are named for (a writer doing nothing would also agree with itself).
    sources = {row["name"]: row for row in orm_sources}
    outcomes = {row["source_id"]: row for row in orm_outcomes}
    assert (sources["moved"]["url"], sources["moved"]["etag"], sources["moved"]["moved_count"]) == (
        TARGET, None, 0)  # fmt: skip
    assert (sources["moved_too"]["url"], sources["moved_too"]["moved_count"]) == (
        "http://e.cn/moved_too.xml", MOVED_AFTER)  # fmt: skip
    assert (sources["redirect_counted"]["moved_to_url"], sources["redirect_counted"]["moved_count"]) == (
        "http://e.cn/other.xml", 1)  # fmt: skip
    assert (sources["redirect_gone"]["moved_to_url"], sources["redirect_gone"]["moved_count"]) == (None, 0)
    assert sources["account"]["url"] == "bridge://weibo/1001" and sources["account"]["moved_count"] == 0
    assert "secret" not in str(outcomes[ids["account"]]["redirects"])
    assert outcomes[ids["account"]]["redirects"][0]["url"] == "http://bridge/weibo/user/1?key=***&a=1"
    assert sources["body_hash_cleared"]["body_hash"] is None and sources["ok"]["body_hash"] == "a" * 64
    assert sources["aborted"]["next_check_at"] == NOW + timedelta(minutes=5)
    assert sources["rate_limited"]["retry_after_until"] == NOW + timedelta(seconds=7200)
    assert sources["rate_limited"]["next_check_at"] == NOW + timedelta(seconds=7200)
    assert sources["not_modified"]["consecutive_failures"] == 0
    assert (sources["failed"]["consecutive_failures"], sources["failed"]["etag"]) == (2, '"keep"')
    assert all(row["leased_until"] is None and row["lease_owner"] is None for row in orm_sources)
    assert len(outcomes[ids["failed"]]["message"]) == MESSAGE_MAX
    assert outcomes[ids["ok"]]["status_counts"] == {"200": 1, "304": 1}
    assert outcomes[ids["no_fetch_stats"]]["redirects"] == []


def test_a_batch_is_one_insert_and_one_update(database: Database) -> None:
    """A re-poll's batch of sources answering 304 alike: one SELECT, one INSERT and one UPDATE for all."""
    with database.session() as session:
        unit = Unit(slug="city", name="市", level="city")
        session.add(unit)
        session.flush()
        sources = [
            Source(unit_id=unit.id, name=f"s{n}", kind="feed", url=f"http://e.cn/{n}.xml", etag='"e"',
                   check_interval_s=900, leased_until=NOW, lease_owner="host:1", last_status_code=200)
            for n in range(7)
        ]  # fmt: skip
        session.add_all(sources)
        session.flush()
        ids = [source.id for source in sources]
        run_id = start_run(session, "test", ids, now=NOW).id
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.lstrip().split()[0].upper())

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.session() as session:
            record_outcomes(
                session,
                [Outcome(run_id=run_id, source_id=source_id, status="not_modified", http_status=304,
                         etag='"e"', finished_at=NOW) for source_id in ids],
            )  # fmt: skip
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert [kind for kind in statements if kind in {"SELECT", "INSERT", "UPDATE"}] == [
        "SELECT",
        "INSERT",
        "UPDATE",
    ]
    with database.session() as session:
        for source_id in ids:
            source = session.get(Source, source_id)
            assert source is not None
            assert (source.last_checked_at, source.last_status_code, source.leased_until) == (NOW, 304, None)
            assert source.next_check_at == NOW + timedelta(seconds=900)
        assert session.scalar(select(func.count(CrawlOutcome.id)).where(CrawlOutcome.run_id == run_id)) == 7
