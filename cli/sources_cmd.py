"""``xinlian sources import|export|list|...``: the registry of units and sources (step 2); ``crawl-now``
makes sources due at once (step 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table
from sqlalchemy import select

from cli.context import cli_context
from hub.models import Source, Unit
from hub.registry import RegistryError, export_registry, import_registry
from hub.schedule.crawlnow import crawl_now
from hub.schedule.hooks import status_hooks
from hub.secreturl import masked_url
from hub.sourceadmin import (
    InvalidSource,
    NoSuchSource,
    NoSuchUnit,
    SourceFilter,
    SourceList,
    discover_sources,
    get_source,
    list_sources,
    source_test,
)
from hub.timeutil import to_zone, utcnow
from moderation.policy import policies_for_sources

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
        try:
            listed = list_sources(session, SourceFilter(unit=unit, below=False))
        except NoSuchUnit:
            listed = SourceList([], 0)  # as before: an unknown unit lists nothing
        for row in listed.rows:
            source = row.source
            checked = source.last_checked_at.strftime("%Y-%m-%d %H:%M") if source.last_checked_at else "-"
            table.add_row(
                str(source.id),
                row.unit.name,
                source.kind,
                masked_url(source.url),  # a listing is shown on screens and pasted in tickets
                "yes" if source.enabled else "no",
                checked,
                str(source.consecutive_failures),
                source.last_error_kind or "",
            )
    context.console.print(table)


_POLICY_VALUES = {"on": True, "off": False, "inherit": None}


@app.command("auto-approve")
def auto_approve(
    ctx: typer.Context,
    setting: Annotated[str, typer.Argument(help="on, off, or inherit (follow the unit above).")],
    unit: Annotated[str | None, typer.Option(help="Unit slug: the setting covers its whole subtree.")] = None,
    source: Annotated[int | None, typer.Option(help="Source id: overrides its unit.")] = None,
) -> None:
    """Set the auto-approve policy: items with no screening hit go live without a reviewer, audited so."""
    context = cli_context(ctx)
    if setting not in _POLICY_VALUES or (unit is None) == (source is None):
        raise typer.BadParameter("give on|off|inherit and exactly one of --unit SLUG or --source ID")
    value = _POLICY_VALUES[setting]
    with context.database.session() as session:
        target: Unit | Source | None = (
            session.scalar(select(Unit).where(Unit.slug == unit))
            if unit is not None
            else session.get(Source, source)
        )
        if target is None:
            missing = f"unit {unit!r}" if unit is not None else f"source {source}"
            context.console.print(f"[red]no {missing}[/red]")
            raise typer.Exit(1)
        target.auto_approve = value
        session.flush()
        ids = (
            [target.id]
            if isinstance(target, Source)
            else list(
                session.scalars(
                    select(Source.id).join(Unit).where(Unit.path.startswith(target.path, autoescape=True))
                )
            )
        )
        policies = policies_for_sources(session, ids)
    on = sum(1 for policy in policies.values() if policy is not None)
    context.console.print(
        f"auto-approve {setting}: {on} of {len(ids)} source(s) now auto-approve clean items"
    )


@app.command("crawl-now")
def crawl_now_(
    ctx: typer.Context,
    source_id: Annotated[int | None, typer.Argument(help="Source id (see `xinlian sources list`).")] = None,
    unit: Annotated[str | None, typer.Option(help="Every source of this unit slug instead.")] = None,
) -> None:
    """Make sources due now (the worker crawls them at its next tick) and lift their pause."""
    context = cli_context(ctx)
    if (source_id is None) == (unit is None):
        raise typer.BadParameter("give a source ID or --unit SLUG")
    with context.database.session() as session:
        query = select(Source.id).join(Unit, Source.unit_id == Unit.id)
        query = query.where(Unit.slug == unit) if unit is not None else query.where(Source.id == source_id)
        ids = list(session.scalars(query.order_by(Source.id)))
        if not ids:
            missing = f"unit {unit!r} or it has no sources" if unit is not None else f"source {source_id}"
            context.console.print(f"[red]no {missing}[/red]")
            raise typer.Exit(1)
        done = crawl_now(session, ids, "command line", utcnow(), status_hooks(context.settings))
    for entry in done:
        if not entry.enabled:
            note = "[yellow]disabled: not crawled[/yellow]"
        elif entry.leased:
            note = "being crawled now; crawled again when that crawl ends"
        else:
            note = "due now"
        context.console.print(
            f"source {entry.source_id}: {note}" + (" (was paused: resumed)" if entry.resumed else "")
        )
    due = sum(1 for entry in done if entry.enabled)
    context.console.print(f"{due} of {len(done)} source(s) will be crawled at the worker's next tick")
    if not due:
        raise typer.Exit(1)


@app.command("test")
def test(
    ctx: typer.Context,
    source_id: Annotated[int, typer.Argument(help="Source id (see `xinlian sources list`).")],
    limit: Annotated[int, typer.Option(help="Items to read at most.")] = 10,
) -> None:
    """Show what a source yields right now, as a crawl would read it; nothing is stored."""
    context = cli_context(ctx)
    with context.database.session() as session:
        try:
            source = get_source(session, source_id)
        except NoSuchSource:
            context.console.print(f"[red]no source {source_id}[/red]")
            raise typer.Exit(1) from None
        session.expunge(source)  # the store is not held while the pages are fetched
    preview = source_test(context.settings, source, limit=limit)
    table = Table("title", "published", "date from", "attachments", "url")
    for item in preview.items:
        published = to_zone(item.published_at, context.settings.timezone) if item.published_at else None
        table.add_row(
            item.title,
            published.strftime("%Y-%m-%d %H:%M") if published else "-",
            item.date_source,
            str(len(item.attachments)),
            item.url,
        )
    context.console.print(table)
    for problem in preview.problems:
        context.console.print(f"[yellow]{problem}[/yellow]", highlight=False)
    context.console.print(
        f"{len(preview.items)} item(s) from {source.kind} source {source_id}; nothing stored"
    )
    if not preview.items:
        raise typer.Exit(1)


@app.command("discover")
def discover_(
    ctx: typer.Context,
    homepage: Annotated[str, typer.Argument(help="A site's homepage URL.")],
    as_yaml: Annotated[bool, typer.Option("--yaml", help="Print the proposals as registry YAML.")] = False,
) -> None:
    """Propose sources for a site: advertised feeds, sitemaps and news list pages, with previews."""
    context = cli_context(ctx)
    with context.database.session() as session:
        try:
            found = discover_sources(session, context.settings, homepage).discovery
        except InvalidSource as exc:
            raise typer.BadParameter(str(exc), param_hint="HOMEPAGE") from exc
    if as_yaml:
        sources = [{"name": p.name, "kind": p.kind, "url": p.url} for p in found.proposals]
        typer.echo(yaml.safe_dump({"sources": sources}, allow_unicode=True, sort_keys=False), nl=False)
    else:
        for proposal in found.proposals:
            context.console.print(
                f"[bold]{proposal.kind}[/bold] {proposal.url}  {proposal.name}", highlight=False
            )
            for line in proposal.preview:
                context.console.print(f"    {line}", highlight=False)
    for problem in found.problems:
        context.console.print(f"[yellow]{problem}[/yellow]", highlight=False)
    if not found.proposals:
        context.console.print("[red]no source found on that page[/red]")
        raise typer.Exit(1)
