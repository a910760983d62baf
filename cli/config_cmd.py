"""``xinlian config show`` and ``xinlian init``."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import BaseModel
from rich.table import Table

from cli.context import cli_context
from hub.settings import Settings
from index.factory import open_backend

app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)


def _rows(model: type[BaseModel], values: dict[str, Any], prefix: str = "") -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for name, info in model.model_fields.items():
        value = values[name]
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _rows(annotation, value, f"{prefix}{name}.")
        else:
            rows.append((f"{prefix}{name}", json.dumps(value, ensure_ascii=False), info.description or ""))
    return rows


def masked_webhook_url(url: str) -> str:
    """``url`` with its path and query masked: a webhook URL is its own credential (Slack's, WeCom's and
    DingTalk's carry the token in the path or in ?key=/access_token=)."""
    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query and not parts.fragment:
        return url
    return urlunsplit((parts.scheme, parts.netloc, "/***", "", ""))


def masked_settings(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret masked, webhook URLs included."""
    masked = settings.masked()
    for webhook in masked["alerts"]["webhooks"].values():
        webhook["url"] = masked_webhook_url(webhook["url"])
    return masked


@app.command("show")
def show(
    ctx: typer.Context,
    describe: Annotated[bool, typer.Option("--all", help="Also print each option's help text.")] = False,
) -> None:
    """Print the effective settings, secrets masked."""
    context = cli_context(ctx)
    settings = context.settings
    table = Table("option", "value", *(["help"] if describe else []))
    for name, value, help_text in _rows(Settings, masked_settings(settings)):
        table.add_row(name, value, *([help_text] if describe else []))
    context.console.print(table)


def init(ctx: typer.Context) -> None:
    """Create or upgrade the store schema and the search index."""
    context = cli_context(ctx)
    context.open_database(check_schema=False).migrate()
    backend = open_backend(context.settings)
    try:
        backend.ensure_ready()
    finally:
        backend.close()
    masked = masked_settings(context.settings)  # a password in either URL is not for the terminal
    context.console.print(f"store ready: {masked['store']['url']}")
    context.console.print(f"search ready: {masked['search']['backend']}")
