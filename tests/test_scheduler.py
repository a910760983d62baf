"""Step 3: due sources are claimed from next_check_at, capped per host, leased, never twice."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from hub.crawlrecord import record_outcome, start_run
from hub.db import Database
from hub.models import Source, Unit
from hub.schedule.crawlnow import crawl_now
from hub.scheduler import claim_due_sources
from hub.timeutil import utcnow


def _add_sources(
    database: Database,
    urls_and_due: Sequence[tuple[str, int | None]],
    now: datetime | None = None,
    interval_s: int = 3600,
) -> list[int]:
    now = now or utcnow()
    with database.session() as session:
        unit = Unit(slug="city", name="市", level="city", path="/")
        session.add(unit)
        session.flush()
        sources = [
            Source(
                unit_id=unit.id,
                name=url,
                kind="feed",
                url=url,
                check_interval_s=interval_s,
                next_check_at=None if due is None else now + timedelta(seconds=due),
            )
            for url, due in urls_and_due
        ]
        session.add_all(sources)
        session.flush()
        return [source.id for source in sources]


def test_claims_only_due_sources_and_leases_them(database: Database) -> None:
    ids = _add_sources(
        database,
        [("http://a.test/1", None), ("http://b.test/1", -60), ("http://c.test/1", 3600)],
    )
    with database.session() as session:
        claimed = claim_due_sources(session, limit=10, per_host_cap=5, lease_s=900, owner="w1")
    assert claimed == ids[:2]  # never checked first, then the oldest due
    with database.session() as session:
        # A second worker right after finds nothing: the lease moved next_check_at forward.
        assert claim_due_sources(session, limit=10, per_host_cap=5, lease_s=900, owner="w2") == []
        leased = session.execute(
            select(Source.next_check_at, Source.leased_until, Source.lease_owner).where(
                Source.id.in_(claimed)
            )
        ).all()
        assert all(until is not None and until > utcnow() + timedelta(seconds=800) for _, until, _ in leased)
        assert {owner for _, _, owner in leased} == {"w1"}


def test_per_host_cap_and_limit(database: Database) -> None:
    _add_sources(
        database, [(f"http://same.test/{n}", None) for n in range(5)] + [("http://other.test/", None)]
    )
    with database.session() as session:
        claimed = claim_due_sources(session, limit=10, per_host_cap=2, lease_s=900)
        hosts = [session.get(Source, source_id).url.split("/")[2] for source_id in claimed]  # type: ignore[union-attr]
    assert hosts.count("same.test") == 2
    assert hosts.count("other.test") == 1
    with database.session() as session:
        assert len(claim_due_sources(session, limit=1, per_host_cap=5, lease_s=900)) == 1


def test_a_crowded_host_does_not_starve_the_others(database: Database) -> None:
    # 300 due sources of one host come first; the other hosts' sources lie beyond the first page.
    ids = _add_sources(
        database,
        [(f"http://platform.test/{n}", -3600 + n) for n in range(300)]
        + [(f"http://site{n}.test/feed", -60) for n in range(5)],
    )
    with database.session() as session:
        claimed = claim_due_sources(session, limit=10, per_host_cap=2, lease_s=900)
    assert claimed == ids[:2] + ids[300:]


def test_disabled_sources_are_never_claimed(database: Database) -> None:
    ids = _add_sources(database, [("http://a.test/1", -60), ("http://b.test/1", None)])
    with database.session() as session:
        session.execute(update(Source).where(Source.id == ids[0]).values(enabled=False))
    with database.session() as session:
        assert claim_due_sources(session, limit=10, per_host_cap=5, lease_s=900) == [ids[1]]


def test_expired_lease_makes_a_source_due_again(database: Database) -> None:
    _add_sources(database, [("http://a.test/feed", None)])
    with database.session() as session:
        assert len(claim_due_sources(session, limit=5, per_host_cap=5, lease_s=900, owner="killed")) == 1
    # The worker was killed: nothing released the lease. Before it ends, nobody else takes the source.
    with database.session() as session:
        early = utcnow() + timedelta(seconds=600)
        assert claim_due_sources(session, limit=5, per_host_cap=5, lease_s=900, now=early) == []
    later = utcnow() + timedelta(seconds=901)
    with database.session() as session:
        assert (
            len(claim_due_sources(session, limit=5, per_host_cap=5, lease_s=900, now=later, owner="w2")) == 1
        )
        assert session.scalar(select(Source.lease_owner)) == "w2"


def test_the_outcome_ends_the_lease_with_the_next_check(database: Database) -> None:
    now = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    (source_id,) = _add_sources(database, [("http://a.test/feed", None)], now=now, interval_s=600)
    with database.session() as session:
        assert claim_due_sources(session, limit=5, per_host_cap=5, lease_s=900, now=now) == [source_id]
        run = start_run(session, "scheduler", [source_id], now=now)
        record_outcome(
            session, run.id, source_id, "ok", http_status=200, items_new=2, now=now + timedelta(seconds=5)
        )
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert (source.leased_until, source.lease_owner) == (None, None)
        assert source.next_check_at == now + timedelta(seconds=605)
        assert source.entries_pending == 2  # kept for the rate, folded after the run
    with database.session() as session:
        assert claim_due_sources(
            session, limit=5, per_host_cap=5, lease_s=900, now=now + timedelta(seconds=606)
        ) == [source_id]


def test_crawl_now_never_takes_a_source_from_the_worker_crawling_it(database: Database) -> None:
    now = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    leased_id, idle_id = _add_sources(
        database, [("http://a.test/feed", None), ("http://b.test/feed", 7200)], now=now
    )
    with database.session() as session:
        assert claim_due_sources(session, limit=1, per_host_cap=5, lease_s=900, now=now) == [leased_id]
    with database.session() as session:
        done = crawl_now(session, [leased_id, idle_id], "admin", now + timedelta(seconds=1))
        assert [(entry.source_id, entry.leased) for entry in done] == [(leased_id, True), (idle_id, False)]
    with database.session() as session:
        # The idle source is due at once; the leased one stays with its worker.
        assert claim_due_sources(
            session, limit=5, per_host_cap=5, lease_s=900, now=now + timedelta(seconds=2)
        ) == [idle_id]


def test_a_claim_that_loses_its_candidates_to_another_worker_reads_again(database_url: str) -> None:
    """Another worker leases this claim's candidates between its read and its UPDATE (the race two
    workers polling together run into every tick): the claim reads again and leases other due
    sources, instead of coming back empty while sources wait."""
    now = utcnow()
    setup = Database(database_url)
    _add_sources(setup, [(f"http://site{n}.test/", -60) for n in range(6)], now=now)
    setup.dispose()
    mine, rival = Database(database_url), Database(database_url)
    rival_claimed: list[int] = []

    def rival_claims_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE SOURCES") and not rival_claimed:
            with rival.session() as session:
                rival_claimed.extend(
                    claim_due_sources(session, limit=3, per_host_cap=1, lease_s=900, now=now, owner="rival")
                )

    event.listen(mine.engine, "before_cursor_execute", rival_claims_first)
    try:
        with mine.session() as session:
            claimed = claim_due_sources(session, limit=3, per_host_cap=1, lease_s=900, now=now, owner="me")
    finally:
        mine.dispose()
        rival.dispose()
    assert len(rival_claimed) == 3
    assert len(claimed) == 3
    assert set(claimed).isdisjoint(rival_claimed)


def test_a_claim_skips_sources_another_worker_is_leasing_right_now(database_url: str) -> None:
    """PostgreSQL: another worker's lease is written but not committed (its rows locked) while this claim
    runs. ``SKIP LOCKED`` passes those rows over; reading again still shows them due, so the claim must
    not pick them again: it leases the other due sources, all in one call."""
    if not database_url.startswith("postgresql"):
        pytest.skip("runs on PostgreSQL (make test-postgres)")
    now = utcnow()
    setup = Database(database_url)
    _add_sources(setup, [(f"http://site{n}.test/", -60) for n in range(9)], now=now)
    setup.dispose()
    mine, rival = Database(database_url), Database(database_url)
    try:
        with rival.session() as rival_session:
            # The first three due sources, leased and not committed until this block ends.
            rival_claimed = claim_due_sources(
                rival_session, limit=3, per_host_cap=1, lease_s=900, now=now, owner="rival"
            )
            with mine.session() as session:
                claimed = claim_due_sources(
                    session, limit=6, per_host_cap=1, lease_s=900, now=now, owner="me"
                )
    finally:
        mine.dispose()
        rival.dispose()
    assert len(rival_claimed) == 3
    assert len(claimed) == 6 and set(claimed).isdisjoint(rival_claimed)


def _clock(start: datetime) -> Callable[[], datetime]:
    ticks = itertools.count()
    lock = threading.Lock()

    def now() -> datetime:
        with lock:
            return start + timedelta(milliseconds=next(ticks))

    return now


def test_two_workers_never_crawl_one_source_at_once(database_url: str) -> None:
    """Two workers, each with its own connections, claim and crawl the same due sources over and over
    (every crawl makes its source due again at once): a source is never in both workers' hands.

    On PostgreSQL (XINLIAN_TEST_DATABASE_URL) the two claims of a round truly run in parallel; SQLite
    has one writer, so there the test mostly checks the re-check of the claim's UPDATE."""
    start = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    setup = Database(database_url)
    ids = _add_sources(
        setup, [(f"http://site{n % 7}.test/{n}", None) for n in range(40)], now=start, interval_s=0
    )
    setup.dispose()
    clock = _clock(start)
    in_hands: dict[int, str] = {}
    crawls: Counter[str] = Counter()
    per_source: Counter[int] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        database = Database(database_url)
        try:
            for _ in range(25):
                barrier.wait(timeout=60)  # both claim at the same moment, every round
                with database.session() as session:
                    claimed = claim_due_sources(
                        session, limit=8, per_host_cap=3, lease_s=900, now=clock(), owner=name
                    )
                with lock:
                    for source_id in claimed:
                        if source_id in in_hands:
                            errors.append(
                                f"source {source_id} claimed by {name} while {in_hands[source_id]} crawls it"
                            )
                        in_hands[source_id] = name
                        crawls[name] += 1
                        per_source[source_id] += 1
                if not claimed:
                    continue
                with database.session() as session:
                    run = start_run(session, "scheduler", claimed, now=clock())
                    for source_id in claimed:
                        record_outcome(
                            session, run.id, source_id, "ok", http_status=200, now=clock(), flush=False
                        )
                    session.flush()
                    with lock:  # the crawl is over once its outcome is written (committed just below)
                        for source_id in claimed:
                            del in_hands[source_id]
        except Exception as exc:  # reported to the test thread below; the other worker stops too
            errors.append(f"{name}: {exc!r}")
            barrier.abort()
            raise
        finally:
            database.dispose()

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # Both workers did work and sources went round several times: the claims really competed.
    assert crawls["w1"] > 0 and crawls["w2"] > 0
    assert sum(crawls.values()) > 2 * len(ids)
    assert set(per_source) == set(ids)
