"""What every command needs: the settings (from --config) and the store, built once per invocation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

from hub.db import Database
from hub.settings import Settings, load_settings


@dataclass
class CliContext:
    """Per-invocation state handed to commands through ``typer.Context.obj``."""

    config_file: Path | None = None
    console: Console = field(default_factory=Console)
    _settings: Settings | None = None
    _database: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_file)
            except (ValueError, FileNotFoundError) as exc:
                self.console.print(f"[red]configuration error:[/red] {exc}")
                raise typer.Exit(2) from exc
        return self._settings

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.settings.store.url, echo=self.settings.store.echo)
            # Imported here: screening loads numpy and OpenCC, which --help and most commands never need.
            from hub.reposts import configure_reposts
            from moderation.screening import configure_screening

            configure_screening(self._database.sessions, self.settings.moderation)
            configure_reposts(self._database.sessions, self.settings)
        return self._database


def cli_context(ctx: typer.Context) -> CliContext:
    """The CliContext stored by the root callback."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        raise RuntimeError("command run outside the xinlian CLI")
    return obj
