"""A private PostgreSQL server for one test module: initdb into a temporary directory, pg_ctl on a free
port. Tests that stop and restart the store use it, never the shared server other tests run on.

PostgreSQL refuses to run as root: when the tests run as root, the server's commands run as the
``postgres`` system user (``runuser``), in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.workers import free_port

SERVER_USER = "postgres"
START_TIMEOUT_S = 60


def server_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with initdb and pg_ctl, or None."""
    found = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "pg_ctl").exists()]
    found.sort(key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    return found[-1] if found else None


def unavailable_reason() -> str | None:
    """Why a private server cannot be started here (None: it can)."""
    if server_binaries() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if os.getuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


@dataclass
class PrivateServer:
    """A running private server; ``url`` names its ``postgres`` database (trust authentication)."""

    bin: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str, timeout_s: float = START_TIMEOUT_S) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.getuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout_s)

    def pg_ctl(self, action: str, *options: str) -> None:
        """``pg_ctl ACTION`` on this server, waiting until it is done (``-w``)."""
        settings = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            action,
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.root / "server.log"),
            "-o",
            settings,
            *options,
        )

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: open connections are cut, the server is back when this returns."""
        self.pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def start(self) -> None:
        self.pg_ctl("start")

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        engine = create_engine(
            self.url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.database_url(name)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


@contextlib.contextmanager
def private_server() -> Iterator[PrivateServer]:
    """initdb, start on a free loopback port; stopped and deleted at the end."""
    binaries = server_binaries()
    assert binaries is not None, unavailable_reason()
    root = Path(tempfile.mkdtemp(prefix="xinlian-pg-"))
    if os.getuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(root, user.pw_uid, user.pw_gid)
    server = PrivateServer(binaries, root, free_port())
    try:
        server._run(
            "initdb",
            "-D",
            str(server.data),
            "-A",
            "trust",
            "-U",
            SERVER_USER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            server._run("pg_ctl", "stop", "-D", str(server.data), "-m", "immediate", "-w")
        shutil.rmtree(root, ignore_errors=True)
