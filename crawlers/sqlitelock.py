"""SQLite with several crawl processes writing: take the write lock when a transaction begins.

pysqlite starts a transaction lazily, as a reader (``BEGIN`` before the first INSERT, or a SAVEPOINT).
In WAL mode such a transaction that has read and then writes fails at once with "database is locked"
(no busy wait) if another process committed in between — and an ingest batch reads, then writes.
Beginning with ``BEGIN IMMEDIATE`` instead makes the writer wait its turn (busy timeout), while the
work done before the transaction (parsing, sanitizing, the first lookups) still runs in parallel.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

_STARTS_TRANSACTION = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")


def _begin_immediate(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is None or dbapi_connection.in_transaction:
        return
    if statement.lstrip()[:9].upper().startswith(_STARTS_TRANSACTION):
        dbapi_connection.execute("BEGIN IMMEDIATE")


def begin_writes_immediately(engine: Engine) -> None:
    """Make every transaction of ``engine`` that writes take SQLite's write lock first (no-op elsewhere)."""
    if engine.dialect.name != "sqlite":
        return
    if not event.contains(engine, "before_cursor_execute", _begin_immediate):
        event.listen(engine, "before_cursor_execute", _begin_immediate)
