"""The ``xinlian`` command line (typer + rich): ties the pipeline steps of docs/architecture.md together."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError
from typer.core import TyperCommand, TyperGroup

from cli.commandhelp import command_help
from cli.context import CliContext
from hub.db import is_disconnect
from index.backend import SearchBackendError

# Every command: name → (module, attribute), a Typer group (``app``) or one command's function. A
# command's module is imported when that command runs: ``xinlian sources list`` no longer loads the
# web app, the crawler and the search engine the other commands need, and ``xinlian --help`` reads
# the commands' help from their source (cli/commandhelp.py) without importing any.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("cli.config_cmd", "init"),
    "serve": ("cli.serve_cmd", "serve"),
    "worker": ("cli.worker_cmd", "worker"),
    "demo": ("cli.demo_cmd", "demo"),
    "config": ("cli.config_cmd", "app"),
    "sources": ("cli.sources_cmd", "app"),
    "moderate": ("cli.moderate_cmd", "app"),
    "index": ("cli.index_cmd", "app"),
    "sample": ("cli.sample_cmd", "app"),
    "users": ("cli.users_cmd", "app"),
    "health": ("cli.health_cmd", "app"),
    "alerts": ("cli.alerts_cmd", "app"),
    "crawl": ("cli.crawl_cmd", "app"),
}


def load_command(name: str) -> Any:
    """The click command ``name`` of COMMANDS, its module imported now."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command: Any = typer.main.get_group(target)  # as add_typer would: no completion options
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _LazyCommands(MutableMapping[str, Any]):
    """The root group's commands: every name of COMMANDS, each loaded on first use."""

    def __init__(self, given: MutableMapping[str, Any]) -> None:
        self._loaded = dict(given)
        self.listing = False  # while the root's help lists the commands: summaries, not commands

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            if self.listing and (summary := command_help(*COMMANDS[name])) is not None:
                return TyperCommand(name, help=summary)  # listed, never run: not kept
            self._loaded[name] = load_command(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS.keys() | self._loaded.keys())


class _LazyGroup(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.lazy_commands = _LazyCommands(self.commands)
        self.commands = self.lazy_commands

    def format_help(self, ctx: Any, formatter: Any) -> None:  # typer's vendored click types are private
        self.lazy_commands.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.lazy_commands.listing = False


def build_app() -> typer.Typer:
    """The typer application; its commands (COMMANDS) load when they run."""
    app = typer.Typer(
        name="xinlian",
        help="Xinlian (信链): crawl, moderate, index and republish the sites of an organization's units.",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        cls=_LazyGroup,
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
