"""``xinlian sources import|export|list``: the registry of units and sources (step 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from cli.context import cli_context
from hub.models import Source, Unit
from hub.registry import RegistryError, export_registry, import_registry

app = typer.Typer(help="Import, export and list units and their sources.", no_args_is_help=True)


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="A YAML, CSV or OPML registry file.", exists=True, dir_okay=False)
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", help="yaml, csv or opml (default: by extension).")
    ] = None,
) -> None:
    """Import units and sources; nothing is written unless the whole file is valid."""
    context = cli_context(ctx)
    try:
        with context.database.session() as session:
            summary = import_registry(session, path, fmt)
    except RegistryError as exc:
        for problem in exc.problems:
            context.console.print(f"[red]{problem}[/red]", highlight=False)
        context.console.print(f"[red]{len(exc.problems)} problem(s); nothing was imported.[/red]")
        raise typer.Exit(1) from exc
    context.console.print(str(summary))


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="yaml, csv or opml.")] = "yaml",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export the registry."""
    context = cli_context(ctx)
    with context.database.session() as session:
        text = export_registry(session, fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        context.console.print(f"wrote {output}")


@app.command("list")
def list_(
    ctx: typer.Context,
    unit: Annotated[str | None, typer.Option(help="Only sources of this unit slug.")] = None,
) -> None:
    """List sources with their unit, kind and last crawl result."""
    context = cli_context(ctx)
    table = Table("id", "unit", "kind", "url", "enabled", "last check", "failures", "last error")
    with context.database.session() as session:
        query = select(Source, Unit).join(Unit, Source.unit_id == Unit.id).order_by(Unit.path, Source.id)
        if unit:
            query = query.where(Unit.slug == unit)
        for source, owner in session.execute(query):
            checked = source.last_checked_at.strftime("%Y-%m-%d %H:%M") if source.last_checked_at else "-"
            table.add_row(
                str(source.id),
                owner.name,
                source.kind,
                source.url,
                "yes" if source.enabled else "no",
                checked,
                str(source.consecutive_failures),
                source.last_error_kind or "",
            )
    context.console.print(table)
