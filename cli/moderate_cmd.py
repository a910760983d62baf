"""``xinlian moderate ...``: the moderation queue and bulk decisions from the terminal (step 6).

``--as NAME`` names the responsible reviewer: a staff account of that name acts with its role and unit
scope; any other name acts as an operator without scope (recorded as given). Several ids given to
``approve`` or ``reject`` make a bulk decision: each item is decided and audited on its own, and bulk
approval refuses items with screening hits (approve those one at a time).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.context import CliContext, cli_context
from hub.models import Item, Unit, User
from hub.timeutil import to_zone, utcnow
from index.catchup import catch_up
from index.factory import one_attempt, open_backend
from moderation.audit import history
from moderation.bulk import BulkTarget, bulk_decide
from moderation.claims import claim_items, claim_next, release_items
from moderation.errors import ModerationError
from moderation.outcome import ItemOutcome
from moderation.queue import QueueFilter, count_queue, queue_entries
from moderation.reasons import ReasonFileError
from moderation.review import review_view
from moderation.rules import ReviewRules
from moderation.service import transition
from moderation.stats import moderation_stats, stats_csv

app = typer.Typer(help="Review crawled items before they are republished.", no_args_is_help=True)

ActorOption = Annotated[
    str,
    typer.Option(
        "--as", help="Responsible reviewer, recorded in the audit trail (a staff account acts in its scope)."
    ),
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Free text (after the code's template).")]
CodeOption = Annotated[
    str | None, typer.Option("--code", help="Reason code of the reasons file (see: moderate reasons).")
]
UnitOption = Annotated[str | None, typer.Option("--unit", help="Only this unit's subtree (slug or id).")]


def _actor(session: Session, name: str) -> User | str:
    """The staff account called ``name``, else the name itself (an operator without scope)."""
    user = session.scalars(select(User).where(User.username == name)).first()
    return user if user is not None else name


def _unit_id(session: Session, unit: str | None) -> int | None:
    if unit is None:
        return None
    query = (
        select(Unit.id).where(Unit.id == int(unit))
        if unit.isdigit()
        else select(Unit.id).where(Unit.slug == unit)
    )
    found = session.scalars(query).first()
    if found is None:
        raise typer.BadParameter(f"no unit {unit!r}", param_hint="--unit")
    return found


def _rules(context: CliContext) -> ReviewRules:
    return ReviewRules.from_settings(context.settings.moderation)


def _catch_up(context: CliContext) -> None:
    """Bring the search index up to date with the decisions just committed: one attempt, none while
    the index was found unreachable lately (index/catchup.py); the worker's drain applies the rest."""
    backend = open_backend(context.settings)
    try:
        if catch_up(context.database, one_attempt(backend, context.settings), context.settings) is None:
            context.console.print("search index unreachable lately: the worker will update it")
    finally:
        backend.close()


def _report(context: CliContext, outcomes: list[ItemOutcome]) -> int:
    """Print one line per item; the number of refusals."""
    refused = 0
    for outcome in outcomes:
        if outcome.ok:
            claim = f", claimed by {outcome.claimed_by}" if outcome.claimed_by else ""
            context.console.print(
                f"item {outcome.item_id}: {outcome.state} (version {outcome.version}{claim})"
            )
        else:
            refused += 1
            context.console.print(f"[red]item {outcome.item_id}: {outcome.error}: {outcome.message}[/red]")
    return refused


@app.command("list")
def list_(
    ctx: typer.Context,
    state: Annotated[
        str, typer.Option(help="pending, approved, rejected, needs_changes or withdrawn.")
    ] = "pending",
    unit: UnitOption = None,
    category: Annotated[str | None, typer.Option(help="Item category.")] = None,
    hit_category: Annotated[str | None, typer.Option(help="Screening-hit category.")] = None,
    min_risk: Annotated[float | None, typer.Option(help="Lowest risk score.")] = None,
    overdue: Annotated[bool, typer.Option(help="Only items past moderation.queue_age_limit_h.")] = False,
    order: Annotated[str, typer.Option(help="risk (riskiest, then oldest, first) or age.")] = "risk",
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
) -> None:
    """The queue: riskiest then oldest first; overdue items are marked with !."""
    context = cli_context(ctx)
    rules, now = _rules(context), utcnow()
    table = Table("id", "version", "risk", "hits", "waiting", "claimed by", "unit", "title", "published")
    with context.database.session() as session:
        wanted = QueueFilter(
            state=state,
            unit_subtree=_unit_id(session, unit),
            category=category,
            hit_category=hit_category,
            min_risk=min_risk,
            older_than=rules.age_limit if overdue else None,
        )
        entries = queue_entries(
            session, wanted, limit=limit, order="age" if order == "age" else "risk", now=now
        )
        for entry in entries:
            item, age = entry.item, entry.age(now)
            published = (
                to_zone(item.published_at, context.settings.timezone).strftime("%Y-%m-%d %H:%M")
                if item.published_at
                else "-"
            )
            waiting = f"{age.total_seconds() / 3600:.1f} h" + (" !" if age > rules.age_limit else "")
            held = item.claimed_by if item.claimed_until and item.claimed_until > now else ""
            table.add_row(
                str(item.id),
                str(item.version),
                f"{item.risk_score:g}",
                str(entry.hit_count),
                waiting,
                held or "",
                item.unit.name,
                item.title,
                published,
            )
        total = count_queue(session, wanted=wanted, now=now)
    context.console.print(table)
    context.console.print(f"{total} item(s) {state}")


@app.command("show")
def show(ctx: typer.Context, item_id: Annotated[int, typer.Argument(help="Item id.")]) -> None:
    """One item as a reviewer sees it: hits of the revision under review and the audit trail."""
    context = cli_context(ctx)
    with context.database.session() as session:
        item = session.get(Item, item_id)
        if item is None:
            context.console.print(f"[red]no item {item_id}[/red]")
            raise typer.Exit(1)
        view = review_view(session, item, _rules(context), utcnow())
        context.console.print(
            f"item {item.id} [{item.state}] version {item.version} risk {item.risk_score:g}: {item.title}"
        )
        if view.claimed_by:
            context.console.print(f"claimed by {view.claimed_by} until {view.claimed_until}")
        if view.two_steps:
            context.console.print(f"two-step review: waiting for the {view.step} step")
        for hit in view.hits:
            context.console.print(
                f"  hit {hit.field}[{hit.start}:{hit.end}] {hit.term} ({hit.category}, {hit.severity})"
            )
        for line in view.diff:
            if line.op != "equal":
                context.console.print(f"  {'-' if line.op == 'delete' else '+'} {line.live or line.new}")
        _print_history(context, session, item_id)


def _print_history(context: CliContext, session: Session, item_id: int) -> None:
    table = Table("time", "rev", "action", "actor", "from", "to", "hits", "reason")
    for event in history(session, item_id):
        table.add_row(
            to_zone(event.created_at, context.settings.timezone).strftime("%Y-%m-%d %H:%M:%S"),
            str(event.revision_number),
            event.action,
            event.actor,
            event.from_state or "-",
            event.to_state,
            "" if event.hit_count is None else str(event.hit_count),
            (f"[{event.reason_code}] " if event.reason_code else "") + (event.reason or ""),
        )
    context.console.print(table)


@app.command("history")
def history_(ctx: typer.Context, item_id: Annotated[int, typer.Argument(help="Item id.")]) -> None:
    """The audit trail of one item."""
    context = cli_context(ctx)
    with context.database.session() as session:
        _print_history(context, session, item_id)


def _decide(
    context: CliContext, item_ids: list[int], action: str, actor: str, reason: str | None, code: str | None
) -> None:
    """One id: a single decision; several: a bulk decision (approve and reject) or one by one."""
    rules = _rules(context)
    outcomes: list[ItemOutcome] = []
    try:
        if len(item_ids) > 1 and action in ("approve", "reject"):
            with context.database.session() as session:
                targets = [BulkTarget(item_id) for item_id in item_ids]
                outcomes = bulk_decide(session, targets, action, _actor(session, actor), reason, code, rules)
        else:
            for item_id in item_ids:
                try:
                    with context.database.session() as session:
                        item = transition(
                            session,
                            item_id,
                            action,
                            _actor(session, actor),
                            reason,
                            reason_code=code,
                            rules=rules,
                        )
                        outcomes.append(ItemOutcome.done(item))
                except ModerationError as error:
                    outcomes.append(ItemOutcome.refused(item_id, error))
    except (ModerationError, ReasonFileError) as error:
        context.console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    refused = _report(context, outcomes)
    if refused < len(outcomes):
        _catch_up(context)
    if refused:
        raise typer.Exit(1)


@app.command("approve")
def approve(
    ctx: typer.Context,
    item_ids: Annotated[list[int], typer.Argument(help="Item ids (several: bulk, clean items only).")],
    actor: ActorOption = "cli",
    reason: ReasonOption = None,
) -> None:
    """Approve items: they become public and searchable (or wait for 终审 under two-step review)."""
    _decide(cli_context(ctx), item_ids, "approve", actor, reason, None)


@app.command("reject")
def reject(
    ctx: typer.Context,
    item_ids: Annotated[list[int], typer.Argument(help="Item ids.")],
    reason: ReasonOption = None,
    code: CodeOption = None,
    actor: ActorOption = "cli",
) -> None:
    """Reject items: never republished. On a published item with an edit waiting, declines the edit only."""
    _decide(cli_context(ctx), item_ids, "reject", actor, reason, code)


@app.command("needs-changes")
def needs_changes(
    ctx: typer.Context,
    item_ids: Annotated[list[int], typer.Argument(help="Item ids.")],
    reason: ReasonOption = None,
    code: CodeOption = None,
    actor: ActorOption = "cli",
) -> None:
    """Send items back to their source; a new revision puts them back in the queue."""
    _decide(cli_context(ctx), item_ids, "needs_changes", actor, reason, code)


@app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    item_ids: Annotated[list[int], typer.Argument(help="Item ids.")],
    reason: ReasonOption = None,
    code: CodeOption = None,
    actor: ActorOption = "cli",
) -> None:
    """Take published items down (a reason or code is required); they leave search at once."""
    _decide(cli_context(ctx), item_ids, "withdraw", actor, reason, code)


@app.command("claim")
def claim(
    ctx: typer.Context,
    item_ids: Annotated[list[int] | None, typer.Argument(help="Item ids (or --next).")] = None,
    next_: Annotated[
        int | None, typer.Option("--next", help="Claim the next N unclaimed items of the queue.")
    ] = None,
    actor: ActorOption = "cli",
) -> None:
    """Claim items for moderation.claim_minutes; others cannot decide them meanwhile."""
    context = cli_context(ctx)
    length = _rules(context).claim_length
    with context.database.session() as session:
        who = _actor(session, actor)
        if item_ids:
            outcomes = claim_items(session, item_ids, who, length)
        elif next_:
            outcomes = claim_next(session, who, next_, length)
        else:
            raise typer.BadParameter("give item ids or --next N")
    if _report(context, outcomes):
        raise typer.Exit(1)


@app.command("release")
def release(
    ctx: typer.Context,
    item_ids: Annotated[list[int], typer.Argument(help="Item ids.")],
    actor: ActorOption = "cli",
) -> None:
    """Give claims back."""
    context = cli_context(ctx)
    with context.database.session() as session:
        outcomes = release_items(session, item_ids, _actor(session, actor))
    if _report(context, outcomes):
        raise typer.Exit(1)


@app.command("reasons")
def reasons(ctx: typer.Context) -> None:
    """The reason codes of the reasons file (moderation.reasons_file)."""
    context = cli_context(ctx)
    table = Table("code", "label", "for", "template")
    for reason in _rules(context).reasons().codes.values():
        table.add_row(reason.code, reason.label, ", ".join(reason.actions), reason.template)
    context.console.print(table)


def _day(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


@app.command("stats")
def stats(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="From this UTC date/time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this UTC date/time (ISO 8601).")] = None,
    days: Annotated[int | None, typer.Option(help="The last N days (instead of --since).")] = None,
    unit: UnitOption = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output (or --output).")] = False,
    output: Annotated[Path | None, typer.Option(help="Write the CSV to this file.")] = None,
) -> None:
    """Decisions per reviewer and per unit: counts by action, median time in queue, reasons."""
    context = cli_context(ctx)
    start = utcnow() - timedelta(days=days) if days else _day(since)
    with context.database.session() as session:
        rows = moderation_stats(session, since=start, until=_day(until), unit_subtree=_unit_id(session, unit))
    if as_csv or output:
        text = stats_csv(rows)
        if output:
            output.write_text(text, encoding="utf-8")
            context.console.print(f"wrote {len(rows)} rows to {output}")
        else:
            sys.stdout.write(text)
        return
    table = Table(
        "group",
        "who",
        "decisions",
        "approved",
        "rejected",
        "needs changes",
        "withdrawn",
        "median wait",
        "reasons",
    )
    for row in rows:
        median_s = row.median_queue_s
        table.add_row(
            row.group,
            row.name,
            str(row.decisions),
            str(row.by_action["approve"] + row.by_action["auto_approve"]),
            str(row.by_action["reject"]),
            str(row.by_action["needs_changes"]),
            str(row.by_action["withdraw"]),
            "-" if median_s is None else f"{median_s / 3600:.1f} h",
            "; ".join(f"{code}={count}" for code, count in row.reasons.most_common()),
        )
    context.console.print(table)
