"""Crawl runs and outcomes: counters on the source, next check, closing a run with missing sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.crawlrecord import finish_run, record_outcome, start_run
from hub.db import Database
from hub.models import Source, Unit

NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def _sources(database: Database) -> list[int]:
    with database.session() as session:
        unit = Unit(slug="city", name="市", level="city")
        session.add(unit)
        session.flush()
        sources = [
            Source(
                unit_id=unit.id, name=f"s{n}", kind="feed", url=f"http://e.cn/{n}.xml", check_interval_s=600
            )
            for n in range(3)
        ]
        session.add_all(sources)
        session.flush()
        return [source.id for source in sources]


def test_outcomes_update_source_counters(database: Database) -> None:
    ok_id, bad_id, _ = _sources(database)
    with database.session() as session:
        run = start_run(session, "test", [ok_id, bad_id], now=NOW)
        record_outcome(
            session,
            run.id,
            ok_id,
            "ok",
            http_status=200,
            items_seen=3,
            items_new=2,
            etag='"abc"',
            last_modified="Sat, 01 Jun 2024 07:00:00 GMT",
            now=NOW,
        )
        record_outcome(session, run.id, bad_id, "failed", "http_5xx", 500, "HTTP 500", now=NOW)
        again = start_run(session, "test", [bad_id], now=NOW)  # one outcome per source per run
        record_outcome(session, again.id, bad_id, "failed", "timeout", None, "slow", now=NOW)
    with database.session() as session:
        ok, bad = session.get(Source, ok_id), session.get(Source, bad_id)
        assert ok is not None and bad is not None
        assert (ok.last_success_at, ok.last_new_item_at, ok.etag) == (NOW, NOW, '"abc"')
        assert ok.next_check_at == NOW + timedelta(seconds=600)
        assert (ok.consecutive_failures, ok.last_status_code) == (0, 200)
        assert (bad.consecutive_failures, bad.total_failures, bad.last_error_kind) == (2, 2, "timeout")
        assert bad.last_success_at is None and bad.last_checked_at == NOW
    with database.session() as session:
        run2 = start_run(session, "test", [bad_id], now=NOW)
        record_outcome(session, run2.id, bad_id, "not_modified", http_status=304, now=NOW)
        bad = session.get(Source, bad_id)
        assert bad is not None and (bad.consecutive_failures, bad.total_failures) == (0, 2)


def test_finish_run_records_missing_sources_as_failed(database: Database) -> None:
    ids = _sources(database)
    with database.session() as session:
        run = start_run(session, "test", ids, now=NOW)
        record_outcome(session, run.id, ids[0], "ok", items_new=4, items_updated=1, now=NOW)
        finished = finish_run(session, run.id, ids, missing_message="worker killed", now=NOW)
        assert (finished.sources_ok, finished.sources_failed) == (1, 2)
        assert (finished.items_new, finished.items_updated, finished.finished_at) == (4, 1, NOW)
        lost = session.get(Source, ids[2])
        assert lost is not None and (lost.last_error_kind, lost.last_error) == ("aborted", "worker killed")


def test_bad_statuses_are_refused(database: Database) -> None:
    ids = _sources(database)
    with database.session() as session:
        run = start_run(session, "test", ids)
        with pytest.raises(ValueError):
            record_outcome(session, run.id, ids[0], "weird")
        with pytest.raises(ValueError):
            record_outcome(session, run.id, ids[0], "failed", "no-such-kind")
