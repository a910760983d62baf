"""``xinlian health report|probe|sweep|history``: site health of every source and unit (docs/health.md)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from cli.context import cli_context
from hub.health.events import history as health_history
from hub.health.job import probe_due
from hub.health.report import Report, source_report, to_csv, unit_report, write_xlsx
from hub.health.sweep import sweep as run_sweep
from hub.models import HealthStatus, Source, Unit
from hub.timeutil import to_zone, utcnow

app = typer.Typer(
    help="Site health: probe homepages, recompute statuses and scores, report.", no_args_is_help=True
)

STATUS_STYLE = {
    "active": "green",
    "slowing": "yellow",
    "stale": "yellow",
    "dormant": "red",
    "broken": "red",
    "unreachable": "red",
    "unknown": "dim",
}
# Columns of the terminal table (the exports carry every column).
SOURCE_TABLE = (
    "unit",
    "source",
    "kind",
    "status",
    "reason",
    "last_new_item",
    "rate_12w",
    "http_status",
    "tls_days_left",
)
UNIT_TABLE = ("unit", "unit_name", "level", "status", "score", "rank_in_level", "sources", "reason")


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"


class By(StrEnum):
    SOURCE = "source"
    UNIT = "unit"


def _table(report: Report, columns: tuple[str, ...]) -> Table:
    table = Table(*columns)
    index = [report.columns.index(column) for column in columns]
    status_at = report.columns.index("status")
    for row in report.rows:
        cells = []
        for position in index:
            value = row[position]
            text = "-" if value is None else str(value)
            if position == status_at:
                text = f"[{STATUS_STYLE.get(text, 'white')}]{text}[/]"
            cells.append(text)
        table.add_row(*cells)
    return table


@app.command("report")
def report(
    ctx: typer.Context,
    unit: Annotated[str | None, typer.Option(help="Only this unit (slug) and the units under it.")] = None,
    status: Annotated[
        list[HealthStatus] | None, typer.Option(help="Only rows with this status (repeatable).")
    ] = None,
    by: Annotated[By, typer.Option(help="One row per source or per unit.")] = By.SOURCE,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv, xlsx or json.")] = Format.TABLE,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout; xlsx needs one).")
    ] = None,
) -> None:
    """Health of every source (or unit) as of the last sweep: status, reason, signals, score."""
    context = cli_context(ctx)
    settings = context.settings
    statuses = [s.value for s in status or []]
    with context.database.session() as session:
        try:
            if by is By.UNIT:
                rows = unit_report(session, settings.timezone, unit, statuses)
            else:
                rows = source_report(
                    session, utcnow(), settings.timezone, settings.health.tls_warn_days, unit, statuses
                )
        except LookupError as exc:
            context.console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    if fmt is Format.XLSX:
        if output is None:
            context.console.print("[red]--format xlsx needs --output FILE[/red]")
            raise typer.Exit(2)
        write_xlsx(rows, output, title=f"health by {by.value}")
        context.console.print(f"wrote {len(rows.rows)} rows to {output}")
        return
    if fmt is Format.TABLE and output is None:
        context.console.print(_table(rows, UNIT_TABLE if by is By.UNIT else SOURCE_TABLE))
        context.console.print(f"{len(rows.rows)} {by.value}s")
        return
    if fmt is Format.JSON:
        text = json.dumps(rows.records(), ensure_ascii=False, indent=2) + "\n"
    else:
        text = to_csv(rows)  # table format into a file: CSV
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        context.console.print(f"wrote {len(rows.rows)} rows to {output}")


@app.command("probe")
def probe(
    ctx: typer.Context,
    source: Annotated[
        list[int] | None,
        typer.Option(help="Probe this source now, due or not (repeatable; default: all due)."),
    ] = None,
) -> None:
    """Probe the homepages that are due now (or the named sources' homepages) and store the results."""
    context = cli_context(ctx)
    summary = probe_due(context.settings, context.database, source_ids=source)
    failed = sum(1 for result in summary.results.values() if result.error_kind)
    context.console.print(
        f"probed {summary.sources} sources ({summary.homepages} homepages): {summary.sources - failed} fine,"
        f" {failed} with a problem"
    )


@app.command("sweep")
def sweep(ctx: typer.Context) -> None:
    """Recompute every source's and unit's status and score from the stored signals, now."""
    context = cli_context(ctx)
    settings = context.settings
    with context.database.session() as session:
        summary = run_sweep(session, settings.health, settings.timezone, utcnow())
    sources = ", ".join(f"{status} {count}" for status, count in summary.sources.most_common())
    units = ", ".join(f"{status} {count}" for status, count in summary.units.most_common())
    context.console.print(f"sources: {sources or 'none'}\nunits: {units or 'none'}")
    context.console.print(f"{len(summary.changes)} status changes recorded")


@app.command("history")
def history(
    ctx: typer.Context,
    source: Annotated[int | None, typer.Option(help="Status changes of this source.")] = None,
    unit: Annotated[str | None, typer.Option(help="Status changes of this unit (slug).")] = None,
    limit: Annotated[int, typer.Option(help="Most changes shown.")] = 50,
) -> None:
    """A source's or unit's status changes, newest first."""
    context = cli_context(ctx)
    zone = context.settings.timezone
    with context.database.session() as session:
        unit_id = None
        if unit is not None:
            unit_id = session.scalar(select(Unit.id).where(Unit.slug == unit))
            if unit_id is None:
                context.console.print(f"[red]unknown unit {unit!r}[/red]")
                raise typer.Exit(2)
        elif source is None or session.get(Source, source) is None:
            context.console.print("[red]name an existing --source ID or a --unit SLUG[/red]")
            raise typer.Exit(2)
        events = health_history(session, source_id=source, unit_id=unit_id, limit=limit)
        table = Table("at", "from", "to", "reason")
        for event in events:
            table.add_row(
                to_zone(event.at, zone).strftime("%Y-%m-%d %H:%M"),
                event.from_status or "-",
                event.to_status,
                event.reason,
            )
    context.console.print(table)
