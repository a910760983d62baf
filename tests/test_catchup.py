"""The moderation catch-up (index/catchup.py): skipped while the index was found unreachable lately."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.db import Database
from hub.models import OutboxEntry, OutboxOp
from hub.settings import Settings
from index.catchup import catch_up
from index.factory import open_backend

NOW = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)


def _row(database: Database, item_id: int, error: str | None, failed_ago_s: float | None) -> None:
    failed_at = None if failed_ago_s is None else NOW - timedelta(seconds=failed_ago_s)
    with database.session() as session:
        session.add(
            OutboxEntry(
                item_id=item_id,
                op=OutboxOp.DELETE.value,
                created_at=NOW - timedelta(minutes=5),
                attempts=0 if error is None else 1,
                last_error=error,
                failed_at=failed_at,
                next_attempt_at=failed_at,  # due again now: only the quiet window holds the catch-up
            )
        )


def _pending(database: Database) -> int:
    with database.session() as session:
        return len(session.scalars(select(OutboxEntry.id)).all())


def test_catch_up_waits_out_the_quiet_window_after_an_unreachable_failure(
    settings: Settings, database: Database
) -> None:
    backend = open_backend(settings)
    quiet = settings.search.catch_up_quiet_s
    try:
        _row(database, 1, "search backend unavailable: connection refused", failed_ago_s=quiet / 2)
        _row(database, 2, None, failed_ago_s=None)  # the decision just committed
        assert catch_up(database, backend, settings, now=NOW) is None
        assert _pending(database) == 2  # nothing touched: the worker's drain applies them

        later = NOW + timedelta(seconds=quiet)
        stats = catch_up(database, backend, settings, now=later)
        assert stats is not None and (stats.applied, stats.remaining) == (2, 0)
    finally:
        backend.close()


def test_other_failures_do_not_hold_the_catch_up(settings: Settings, database: Database) -> None:
    backend = open_backend(settings)
    try:
        _row(database, 1, "400 mapper_parsing_exception: bad date", failed_ago_s=1)
        stats = catch_up(database, backend, settings, now=NOW)
        assert stats is not None and stats.applied == 1
    finally:
        backend.close()
