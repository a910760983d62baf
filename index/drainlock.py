"""One outbox drain at a time per store (docs/architecture.md step 7).

A drain reads each item's current state, builds its document and writes it. Two drains at once (the
worker's job and a moderation decision's catch-up, or two workers) could read one item at different
moments and write in the opposite order; with equal versions (a repost link, a unit rename, the
original's state: none bumps the item version) the older document would win. Draining is cheap to
serialize: the second drainer skips, and the one running applies every row, its rows included.

PostgreSQL: a session advisory lock on a connection held for the drain (released by the server when
the process dies). SQLite: an flock on a file beside the database (released by the kernel likewise);
an in-memory database has one process, nothing to serialize.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from hub.db import Database

ADVISORY_KEY = 0x78696E6C_6F757462  # "xinloutb": unique to Xinlian's drain among advisory locks


@contextmanager
def drain_lock(db: Database) -> Iterator[bool]:
    """Yield True while this process holds the store's drain lock, False if another drain holds it."""
    url = db.engine.url
    if url.get_backend_name() == "postgresql":
        with db.engine.connect() as connection:
            held = bool(
                connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            )
            try:
                yield held
            finally:
                if held:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                connection.commit()
        return
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield True
        return
    with Path(f"{database}.drain-lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
