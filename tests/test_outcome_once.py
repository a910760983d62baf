"""At most one crawl outcome per (run, source): the first written wins, a late one is logged and dropped.

The case it guards: a joiner of a frontier run (``xinlian crawl join``) still writing after the runner
stopped waiting (crawl.frontier_stall_s) and recorded the source aborted. The late write goes through
the real writers (the crawl ledger's batch, and record_outcome as finish_run uses it), on both stores.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crawlers.ledger import CrawlLedger, SourceJob
from hub.crawlrecord import finish_run, record_outcome, start_run
from hub.db import Database
from hub.models import CrawlOutcome, Source, Unit

NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def _sources(database: Database, count: int) -> list[int]:
    with database.session() as session:
        unit = Unit(slug="jd", name="某某街道", level="street", path="/")
        session.add(unit)
        session.flush()
        sources = [
            Source(unit_id=unit.id, name=f"栏目{n}", kind="html", url=f"http://127.0.0.1:9/list/{n}.html")
            for n in range(count)
        ]
        session.add_all(sources)
        session.flush()
        return [source.id for source in sources]


def _outcomes(database: Database, run_id: int) -> dict[int, list[tuple[int, str, str | None]]]:
    """source id -> its outcomes in the run as (id, status, error kind), in id order."""
    found: dict[int, list[tuple[int, str, str | None]]] = {}
    with database.session() as session:
        rows = session.execute(
            select(CrawlOutcome.source_id, CrawlOutcome.id, CrawlOutcome.status, CrawlOutcome.error_kind)
            .where(CrawlOutcome.run_id == run_id)
            .order_by(CrawlOutcome.id)
        )
        for source_id, outcome_id, status, kind in rows:
            found.setdefault(source_id, []).append((outcome_id, status, kind))
    return found


def _dropped(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "dropped" in r.getMessage()
    ]


def test_a_joiners_late_batch_keeps_the_runners_aborted_outcome_and_writes_the_rest(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    late, *others = _sources(database, 3)
    with database.session() as session:
        run_id = start_run(session, "test", [late, *others], now=NOW).id
    # The runner stopped waiting for the joiner: the source it still held is recorded aborted.
    with database.session() as session:
        finish_run(session, run_id, [late], missing_message="the joiner left no word", now=NOW)
    with database.session() as session:
        aborted = session.get(Source, late)
        assert aborted is not None
        before = (aborted.consecutive_failures, aborted.last_error_kind, aborted.last_checked_at)

    # Then the joiner's ledger ends that source and two others: one batch of three outcomes.
    jobs = [
        SourceJob(id=source_id, name="栏目", kind="html", url=f"http://x/{source_id}") for source_id in others
    ]
    ledger = CrawlLedger(
        database, run_id, [SourceJob(id=late, name="栏目", kind="html", url="http://x/l"), *jobs]
    )

    async def crawl() -> None:
        for source_id in (late, *others):
            ledger.begin(source_id)
            ledger.responded(source_id, 200, None, None)
        for source_id in (late, *others):
            ledger.end(source_id)
        await ledger.close([late, *others])

    caplog.set_level(logging.WARNING)
    try:
        asyncio.run(crawl())  # nothing raised
    finally:
        ledger.shutdown()

    outcomes = _outcomes(database, run_id)
    assert [(status, kind) for _, status, kind in outcomes[late]] == [("failed", "aborted")]
    for source_id in others:  # the rest of the joiner's batch is stored
        assert [(status, kind) for _, status, kind in outcomes[source_id]] == [("ok", None)]
    with database.session() as session:  # the dropped outcome changed nothing on its source
        kept = session.get(Source, late)
        assert kept is not None
        assert (kept.consecutive_failures, kept.last_error_kind, kept.last_checked_at) == before
        assert kept.last_success_at is None
        for source_id in others:
            done = session.get(Source, source_id)
            assert done is not None and done.last_success_at is not None and done.last_status_code == 200
    assert _dropped(caplog) == [
        f"crawl run {run_id}: source {late} has an outcome already; this later one (ok ) is dropped"
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "the batch was not written whole"


def test_an_aborted_outcome_written_after_the_joiners_is_dropped(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The other order: the runner found no outcome, then the joiner's landed before the runner's insert
    (record_outcome, as finish_run writes it, returns False)."""
    (source_id,) = _sources(database, 1)
    with database.session() as session:
        run_id = start_run(session, "test", [source_id], now=NOW).id
        assert record_outcome(session, run_id, source_id, "ok", http_status=200, items_seen=8, now=NOW)
    caplog.set_level(logging.WARNING)
    with database.session() as session:
        later = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
        assert not record_outcome(
            session, run_id, source_id, "failed", "aborted", message="stalled", now=later
        )
    outcomes = _outcomes(database, run_id)
    assert [(status, kind) for _, status, kind in outcomes[source_id]] == [("ok", None)]
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert (source.last_checked_at, source.last_error_kind, source.consecutive_failures) == (NOW, None, 0)
    assert len(_dropped(caplog)) == 1 and f"source {source_id}" in _dropped(caplog)[0]
