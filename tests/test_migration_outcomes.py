"""Migration 0007: duplicate outcomes of a (run, source) stored before it are cut to the earliest, and the
store refuses a second one after it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError

from hub.crawlrecord import start_run
from hub.db import Database, alembic_config
from hub.models import CrawlOutcome, Source, Unit, core_table

NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def test_duplicate_outcomes_are_cut_to_the_first_and_refused_afterwards(database_url: str) -> None:
    database = Database(database_url)
    with database.session() as session:
        unit = Unit(slug="jd", name="某某街道", level="street", path="/")
        session.add(unit)
        session.flush()
        sources = [
            Source(unit_id=unit.id, name=f"s{n}", kind="html", url=f"http://e.cn/{n}") for n in range(2)
        ]
        session.add_all(sources)
        session.flush()
        one, two = (source.id for source in sources)
        first, second = (start_run(session, "test", [one, two], now=NOW).id for _ in range(2))
    database.dispose()
    command.downgrade(alembic_config(database_url), "0006")  # outcomes as a store before 0007 could hold them

    database = Database(database_url)
    with database.session() as session:
        # (run, source, status) in insertion order: run `first` has two of source `one`, the earliest ok.
        written = [
            (first, one, "ok"),
            (first, two, "ok"),
            (first, one, "failed"),
            (second, one, "failed"),
            (first, one, "not_modified"),
        ]
        for run_id, source_id, status in written:
            session.execute(
                insert(core_table(CrawlOutcome)).values(
                    run_id=run_id,
                    source_id=source_id,
                    status=status,
                    error_kind="aborted" if status == "failed" else None,
                    finished_at=NOW,
                )
            )
    database.dispose()
    command.upgrade(alembic_config(database_url), "head")

    database = Database(database_url)
    try:
        with database.session() as session:
            kept = session.execute(
                select(CrawlOutcome.run_id, CrawlOutcome.source_id, CrawlOutcome.status).order_by(
                    CrawlOutcome.id
                )
            ).all()
            assert [tuple(row) for row in kept] == [
                (first, one, "ok"),
                (first, two, "ok"),
                (second, one, "failed"),
            ]
            indexes = {ix["name"]: ix for ix in inspect(session.connection()).get_indexes("crawl_outcomes")}
            index = indexes["uq_crawl_outcomes_run_source"]
            assert (index["column_names"], bool(index["unique"])) == (["run_id", "source_id"], True)
        with pytest.raises(IntegrityError), database.session() as session:
            session.execute(
                insert(core_table(CrawlOutcome)).values(
                    run_id=second, source_id=one, status="ok", finished_at=NOW
                )
            )
    finally:
        database.dispose()


def test_outcomes_are_found_by_run_through_the_unique_index_alone(database_url: str) -> None:
    """0008 drops the run_id index the unique (run_id, source_id) index made redundant; down restores it."""
    database = Database(database_url)

    def index_names() -> set[str]:
        with database.engine.connect() as connection:
            return {ix["name"] for ix in inspect(connection).get_indexes("crawl_outcomes")}

    try:
        assert "ix_crawl_outcomes_run_id" not in index_names()
        assert "uq_crawl_outcomes_run_source" in index_names()
        if database.engine.dialect.name == "sqlite":
            with database.engine.connect() as connection:
                plan = " ".join(
                    str(row[-1])
                    for row in connection.exec_driver_sql(
                        "EXPLAIN QUERY PLAN SELECT status FROM crawl_outcomes WHERE run_id = 1"
                    )
                )
            assert "USING INDEX uq_crawl_outcomes_run_source (run_id=?)" in plan
        database.dispose()
        command.downgrade(alembic_config(database_url), "0007")
        assert "ix_crawl_outcomes_run_id" in index_names()
        database.dispose()
        command.upgrade(alembic_config(database_url), "head")
        assert "ix_crawl_outcomes_run_id" not in index_names()
    finally:
        database.dispose()
