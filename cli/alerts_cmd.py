"""``xinlian alerts test|list``: try the alert channels, see what was sent (docs/health.md "Alerts")."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from cli.context import cli_context
from hub.alerts.deliver import deliver_due
from hub.alerts.outbox import queue
from hub.alerts.payload import TEST, sample_alert
from hub.alerts.recipients import EMAIL, WEBHOOK, Recipient, email_enabled
from hub.models import AlertOutbox
from hub.timeutil import to_zone, utcnow

app = typer.Typer(help="Alerts: send a test alert, list recent alerts.", no_args_is_help=True)


@app.command("test")
def test(
    ctx: typer.Context,
    webhook: Annotated[
        list[str] | None, typer.Option(help="Only this configured webhook (by name; repeatable).")
    ] = None,
    email: Annotated[
        list[str] | None, typer.Option(help="Send the test e-mail to this address (repeatable).")
    ] = None,
) -> None:
    """Send a test alert now to every webhook and alerts.email_to address (or only those named)."""
    context = cli_context(ctx)
    settings = context.settings
    alerts = settings.alerts
    unknown = sorted(set(webhook or []) - set(alerts.webhooks))
    if unknown:
        context.console.print(f"[red]no webhook named {', '.join(unknown)} in [alerts.webhooks][/red]")
        raise typer.Exit(2)
    if email and not email_enabled(alerts):
        context.console.print("[red]no SMTP server configured (alerts.smtp_host)[/red]")
        raise typer.Exit(2)
    names = webhook or ([] if email else list(alerts.webhooks))
    recipients = [Recipient(WEBHOOK, alerts.webhooks[name].url) for name in names]
    addresses = email or ([] if webhook else alerts.email_to if email_enabled(alerts) else [])
    recipients += [Recipient(EMAIL, address) for address in addresses]
    if not recipients:
        context.console.print("[yellow]nothing to send to: configure [alerts] webhooks or e-mail[/yellow]")
        raise typer.Exit(1)
    now = utcnow()
    with context.database.session() as session:
        ids = [
            row.id for row in queue(session, recipients, TEST, sample_alert(now, settings.web.base_url), now)
        ]
    deliver_due(alerts, settings.timezone, context.database, now)
    with context.database.session() as session:
        rows = list(
            session.scalars(select(AlertOutbox).where(AlertOutbox.id.in_(ids)).order_by(AlertOutbox.id))
        )
        failed = 0
        for row in rows:
            if row.sent_at is not None:
                context.console.print(f"[green]sent[/green] {row.kind} {row.target}")
                continue
            failed += 1
            # A failed test is not retried in the background: it has done its job by failing here.
            row.failed_at = row.failed_at or now
            context.console.print(f"[red]failed[/red] {row.kind} {row.target}: {row.last_error}")
    if failed:
        raise typer.Exit(1)


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    pending: Annotated[bool, typer.Option(help="Only alerts not sent yet (held, retrying).")] = False,
    limit: Annotated[int, typer.Option(help="Most alerts shown.")] = 50,
) -> None:
    """Recent alerts, newest first: event, channel, recipient, when due, attempts, outcome."""
    context = cli_context(ctx)
    zone = context.settings.timezone
    query = select(AlertOutbox).order_by(AlertOutbox.id.desc()).limit(limit)
    if pending:
        query = query.where(
            AlertOutbox.sent_at.is_(None), AlertOutbox.dropped_at.is_(None), AlertOutbox.failed_at.is_(None)
        )
    table = Table("id", "event", "source", "kind", "target", "due", "attempts", "outcome")
    with context.database.session() as session:
        for row in session.scalars(query):
            if row.sent_at is not None:
                outcome = "sent " + to_zone(row.sent_at, zone).strftime("%m-%d %H:%M")
            elif row.dropped_at is not None:
                outcome = "dropped (the source flipped back)"
            elif row.failed_at is not None:
                outcome = f"given up: {row.last_error}"
            else:
                outcome = f"pending{': ' + row.last_error if row.last_error else ''}"
            table.add_row(
                str(row.id),
                row.event,
                str(row.source_id or "-"),
                row.kind,
                row.target,
                to_zone(row.due_at, zone).strftime("%Y-%m-%d %H:%M"),
                str(row.attempts),
                outcome,
            )
    context.console.print(table)
