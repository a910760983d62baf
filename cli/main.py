"""The ``xinlian`` command line (typer + rich): ties the pipeline steps of docs/architecture.md together."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

from cli import (
    alerts_cmd,
    config_cmd,
    crawl_cmd,
    demo_cmd,
    health_cmd,
    index_cmd,
    moderate_cmd,
    sample_cmd,
    serve_cmd,
    sources_cmd,
    users_cmd,
    worker_cmd,
)
from cli.context import CliContext
from hub.db import is_disconnect
from index.backend import SearchBackendError


def build_app() -> typer.Typer:
    """The typer application with every command group registered."""
    app = typer.Typer(
        name="xinlian",
        help="Xinlian (信链): crawl, moderate, index and republish the sites of an organization's units.",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        config: Annotated[
            Path | None,
            typer.Option(
                "--config", "-c", help="Settings file (default: $XINLIAN_CONFIG or config/xinlian.toml)."
            ),
        ] = None,
    ) -> None:
        ctx.obj = CliContext(config_file=config)

    app.add_typer(config_cmd.app, name="config")
    app.add_typer(sources_cmd.app, name="sources")
    app.add_typer(moderate_cmd.app, name="moderate")
    app.add_typer(index_cmd.app, name="index")
    app.add_typer(sample_cmd.app, name="sample")
    app.add_typer(users_cmd.app, name="users")
    app.add_typer(health_cmd.app, name="health")
    app.add_typer(alerts_cmd.app, name="alerts")
    app.add_typer(crawl_cmd.app, name="crawl")
    app.command("init")(config_cmd.init)
    app.command("serve")(serve_cmd.serve)
    app.command("worker")(worker_cmd.worker)
    app.command("demo")(demo_cmd.demo)
    return app


STORE_UNREACHABLE_EXIT = 3  # 2 is a configuration or file error (cli/context.py)
INDEX_ERROR_EXIT = 4


def main() -> None:
    """Console-script entry point. A store that cannot be reached stops any command with one clear line
    on stderr and exit code 3 (so does a SQLite file that is not a database, or a full disk); an index
    the command cannot open or use (an embedded index directory that cannot be created or read, a
    cluster refusing the command) with one line and exit code 4; rather than a page of traceback.
    Other errors keep theirs."""
    try:
        build_app()()
    except SearchBackendError as exc:
        # The message names the index (the embedded directory or the cluster) and the OS or server error.
        Console(stderr=True).print(
            f"[red]search index error[/red] (check the search settings): {escape(str(exc))}",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(INDEX_ERROR_EXIT)
    except DBAPIError as exc:
        if is_disconnect(exc):
            # psycopg's message names host and port, never the password; store.url is the setting to check.
            what = "[red]store unreachable[/red] (check store.url and that the database runs)"
        elif _sqlite_file_problem(exc):
            what = "[red]store file unusable[/red] (check store.url and the disk)"
        else:
            raise
        Console(stderr=True).print(
            f"{what}: {escape(_first_line(exc.orig))}", highlight=False, soft_wrap=True
        )
        sys.exit(STORE_UNREACHABLE_EXIT)


# SQLite's errors for a file it cannot use at all (not a passing lock): the message is all it gives.
_SQLITE_FILE_PROBLEMS = (
    "file is not a database",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    "attempt to write a readonly database",
    "database disk image is malformed",
)


def _sqlite_file_problem(exc: DBAPIError) -> bool:
    if type(exc.orig).__module__ != "sqlite3":
        return False
    message = str(exc.orig).lower()
    return any(problem in message for problem in _SQLITE_FILE_PROBLEMS)


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    return text.splitlines()[0] if text else "no answer"
