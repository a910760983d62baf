"""``xinlian moderate list|approve|reject``: the moderation queue from the terminal (step 6)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.context import CliContext, cli_context
from hub.timeutil import to_zone
from index.factory import open_backend
from index.outbox import drain_outbox
from moderation.errors import Conflict, Forbidden, InvalidTransition, NotFound
from moderation.queue import list_queue
from moderation.service import transition

app = typer.Typer(help="Review crawled items before they are republished.", no_args_is_help=True)

ActorOption = Annotated[
    str, typer.Option("--as", help="Name of the responsible reviewer, recorded in the audit log.")
]


@app.command("list")
def list_(
    ctx: typer.Context,
    state: Annotated[
        str, typer.Option(help="pending, approved, rejected, needs_changes or withdrawn.")
    ] = "pending",
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
) -> None:
    """Items waiting in the queue, oldest first."""
    context = cli_context(ctx)
    table = Table("id", "version", "unit", "title", "published", "source page")
    with context.database.session() as session:
        for item in list_queue(session, state=state, limit=limit):
            published = (
                to_zone(item.published_at, context.settings.timezone).strftime("%Y-%m-%d %H:%M")
                if item.published_at
                else "-"
            )
            table.add_row(str(item.id), str(item.version), item.unit.name, item.title, published, item.url)
    context.console.print(table)


def _decide(context: CliContext, item_ids: list[int], action: str, actor: str, reason: str | None) -> None:
    failures = 0
    for item_id in item_ids:
        try:
            with context.database.session() as session:
                item = transition(session, item_id, action, actor, reason=reason)
                context.console.print(f"item {item_id}: {item.state} (version {item.version})")
        except (Conflict, Forbidden, InvalidTransition, NotFound) as exc:
            failures += 1
            context.console.print(f"[red]item {item_id}: {exc}[/red]")
    backend = open_backend(context.settings)
    try:
        drain_outbox(context.database, backend)
    finally:
        backend.close()
    if failures:
        raise typer.Exit(1)


@app.command("approve")
def approve(
    ctx: typer.Context,
    item_ids: Annotated[list[int], typer.Argument(help="Item ids.")],
    actor: ActorOption = "cli",
    reason: Annotated[str | None, typer.Option(help="Optional note.")] = None,
) -> None:
    """Approve items: they become public and searchable."""
    _decide(cli_context(ctx), item_ids, "approve", actor, reason)


@app.command("reject")
def reject(
    ctx: typer.Context,
    item_ids: Annotated[list[int], typer.Argument(help="Item ids.")],
    reason: Annotated[str, typer.Option(help="Why (shown in the audit log).")],
    actor: ActorOption = "cli",
) -> None:
    """Reject items: they are never republished."""
    _decide(cli_context(ctx), item_ids, "reject", actor, reason)
