"""Crawl processes' SQLite transactions take the write lock as they begin (crawlers/sqlitelock.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from crawlers.sqlitelock import begin_writes_immediately
from hub.db import Database


def _other_writer_locked_out(path: Path) -> bool:
    """True if another connection cannot take the write lock right now (no waiting)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return True
    finally:
        other.close()


@pytest.mark.parametrize("hooked", [True, False])
def test_a_savepoint_takes_the_write_lock_only_with_the_hook(tmp_path: Path, hooked: bool) -> None:
    path = tmp_path / "lock.db"
    database = Database(f"sqlite:///{path}")
    try:
        with database.session() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
        if hooked:
            begin_writes_immediately(database.engine)
            begin_writes_immediately(database.engine)  # once per engine, however often it is asked
        with database.session() as session:
            session.execute(text("SELECT count(*) FROM t")).scalar()
            assert not _other_writer_locked_out(path)  # reads before the transaction lock nothing
            with session.begin_nested():  # what an ingest batch starts its writes with
                session.execute(text("SELECT count(*) FROM t")).scalar()
                # Hooked, the transaction began with BEGIN IMMEDIATE: a second writer must wait its
                # turn now, instead of this one failing later when it writes after the other committed.
                assert _other_writer_locked_out(path) is hooked
                session.execute(text("INSERT INTO t VALUES (1)"))
        with database.session() as session:
            assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1
    finally:
        database.dispose()
