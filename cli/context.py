"""What every command needs: the settings (from --config) and the store, built once per invocation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from hub.db import Database, StoreLocationError
from hub.settings import Settings, load_settings


@dataclass
class CliContext:
    """Per-invocation state handed to commands through ``typer.Context.obj``."""

    config_file: Path | None = None
    console: Console = field(default_factory=Console)
    errors: Console = field(default_factory=lambda: Console(stderr=True))
    _settings: Settings | None = None
    _database: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_file)
            except (ValueError, FileNotFoundError) as exc:
                self.fail("configuration error", exc)
        return self._settings

    @property
    def database(self) -> Database:
        """The store, checked to hold this version's schema (else the command stops: run init)."""
        return self.open_database(check_schema=True)

    def open_database(self, check_schema: bool) -> Database:
        """The store; ``check_schema`` False only for the command that creates or upgrades the schema."""
        if self._database is None:
            try:
                database = Database(self.settings.store.url, echo=self.settings.store.echo)
            except StoreLocationError as exc:
                self.fail("store error", exc)
            problem = database.schema_problem() if check_schema else None
            if problem is not None:
                database.dispose()
                self.fail("store not ready", ValueError(problem))
            # Imported here: screening loads numpy and OpenCC, which --help and most commands never need.
            from hub.reposts import configure_reposts
            from moderation.lexicon import LexiconError
            from moderation.reasons import ReasonFileError
            from moderation.screening import configure_screening

            try:
                configure_screening(database.sessions, self.settings.moderation)
                configure_reposts(database.sessions, self.settings)
            except (LexiconError, ReasonFileError) as exc:
                # A typo in a lexicon or the reasons file: its '<file>:<line>: problem', not a traceback.
                database.dispose()
                self.fail("moderation file error", exc)
            self._database = database
        return self._database

    def fail(self, what: str, error: Exception) -> NoReturn:
        """Stop the command with exit code 2 and ``what: error`` on stderr (the error names the file)."""
        # Escaped: a reasons file's message names codes as "[code]", which rich would take for markup.
        self.errors.print(f"[red]{what}:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from error


def cli_context(ctx: typer.Context) -> CliContext:
    """The CliContext stored by the root callback."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        raise RuntimeError("command run outside the xinlian CLI")
    return obj
