"""Engine and session factory for the store: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# A write waits this long for the store to come back (a PostgreSQL restart or failover takes seconds),
# retrying the whole transaction with a back-off doubling from RETRY_FIRST_S up to RETRY_MAX_S.
STORE_RETRY_S = 120.0
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 5.0

logger = logging.getLogger(__name__)
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class StoreLocationError(OSError):
    """The SQLite file named by store.url cannot have its folder: a configuration error."""


def make_engine(url: str, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a generous busy timeout."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the path, a read-only mount: say which setting points there
                raise StoreLocationError(
                    f"store.url: the folder {folder} of the SQLite file cannot be created: {exc}"
                ) from exc
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pool_pre_ping: a connection the server dropped (restart, failover, idle timeout) is replaced at
    # checkout instead of failing the next request; SQLAlchemy then recycles the rest of the pool.
    return create_engine(url, echo=echo, pool_pre_ping=True)


def is_disconnect(exc: BaseException) -> bool:
    """The store could not be reached or dropped the connection (a restart, a failover, a network cut).

    The transaction did not commit (or, if the connection died during COMMIT, may have: callers'
    writes must be safe to run again) and can be retried once the store answers. Only PostgreSQL
    errors count: SQLite's OperationalError also means "no such table" or a full disk.
    """
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError) or not type(exc.orig).__module__.startswith("psycopg"):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    # No SQLSTATE: the client failed to connect or lost the socket. 08: connection exception.
    # 57P01-57P03: admin/crash shutdown, "the database system is starting up / shutting down".
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def retry_on_disconnect(
    attempt: Callable[[], T],
    what: str,
    give_up_after_s: float = STORE_RETRY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``attempt`` (one whole transaction); while the store is unreachable (``is_disconnect``), wait
    and run it again, up to ``give_up_after_s``; then, or on any other error, the error is raised."""
    deadline = time.monotonic() + give_up_after_s
    wait = RETRY_FIRST_S
    while True:
        try:
            return attempt()
        except DBAPIError as exc:
            if not is_disconnect(exc) or time.monotonic() + wait > deadline:
                raise
            logger.warning("%s: the store is unreachable (%s); retrying in %.2fs", what, exc.orig, wait)
        sleep(wait)
        wait = min(wait * 2, RETRY_MAX_S)


class Database:
    """The store of one process: an engine and its session factory."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, echo=echo)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command  # imported here: only init and tests migrate, every command starts

        command.upgrade(alembic_config(self.url), "head")

    def schema_problem(self) -> str | None:
        """Why this store cannot be used by this version of Xinlian (no schema yet, an older or a newer
        one), or None. One small query; the migration scripts' head read from their files."""
        from alembic.script import ScriptDirectory  # only commands that open the store pay for it

        heads = set(ScriptDirectory.from_config(alembic_config(self.url)).get_heads())
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return "the store has no Xinlian schema yet: run `xinlian init`"
            current = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
        if current != heads:
            return (
                f"the store's schema is at revision {', '.join(sorted(current)) or 'none'}, this version"
                f" needs {', '.join(sorted(heads))}: run `xinlian init` to upgrade it"
            )
        return None

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> AlembicConfig:
    """Alembic configuration pointing at our migrations and ``url``."""
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config
