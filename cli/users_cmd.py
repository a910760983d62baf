"""``xinlian users``: staff accounts (admin, moderator, viewer) and their API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from sqlalchemy import select

from cli.context import cli_context
from hub.apitokens import create_token, list_tokens, revoke_token
from hub.models import Role, Unit
from hub.timeutil import utcnow
from hub.users import create_user, find_user, list_users, set_active

app = typer.Typer(help="Manage staff accounts.", no_args_is_help=True)
token_app = typer.Typer(
    help="API tokens for the JSON API (Authorization: Bearer <token>).", no_args_is_help=True
)
app.add_typer(token_app, name="token")


@app.command("add")
def add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option(help="admin, moderator or viewer.")] = Role.MODERATOR,
    display_name: Annotated[str, typer.Option(help="Name shown as the responsible reviewer.")] = "",
    unit: Annotated[
        str | None, typer.Option(help="Slug of the unit whose subtree a moderator or viewer is limited to.")
    ] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password (prompted).")
    ] = "",
) -> None:
    """Create a staff account."""
    context = cli_context(ctx)
    with context.database.session() as session:
        scope = None
        if unit is not None:
            scope = session.scalar(select(Unit.id).where(Unit.slug == unit))
            if scope is None:
                context.console.print(f"[red]no unit {unit!r}[/red]")
                raise typer.Exit(1)
        try:
            user = create_user(session, username, password, role.value, display_name, scope)
        except ValueError as exc:
            context.console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
        context.console.print(f"created {user.role} {user.username}", markup=False)


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """List staff accounts: name, role, unit scope, state."""
    context = cli_context(ctx)
    with context.database.session() as session:
        for user in list_users(session):
            scope = f" scope=unit/{user.unit_scope_id}" if user.unit_scope_id is not None else ""
            state = "" if user.active else " (deactivated)"
            typer.echo(f"{user.username}\t{user.role}{scope}{state}")  # tab-separated for scripts


@app.command("deactivate")
def deactivate(ctx: typer.Context, username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Deactivate an account: its sessions end at once, its API tokens stop working."""
    context = cli_context(ctx)
    with context.database.session() as session:
        user = find_user(session, username)
        if user is None:
            context.console.print(f"[red]no user {username!r}[/red]")
            raise typer.Exit(1)
        try:
            set_active(session, user, False)
        except ValueError as exc:
            context.console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
        context.console.print(f"deactivated {user.username}", markup=False)


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The account the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for (shown in the list).")] = "",
    expires: Annotated[
        int | None, typer.Option(min=1, help="Days until the token expires (default: until revoked).")
    ] = None,
) -> None:
    """Create an API token and print it once: only its SHA-256 is kept."""
    context = cli_context(ctx)
    with context.database.session() as session:
        user = find_user(session, username)
        if user is None or not user.active:
            context.console.print(f"[red]no active user {username!r}[/red]")
            raise typer.Exit(1)
        issued = create_token(session, user, name, timedelta(days=expires) if expires else None)
        token_id = issued.token.id
        until = issued.token.expires_at
    context.console.print(
        f"token {token_id} for {username}"
        + (f", expires {until:%Y-%m-%d %H:%M} UTC" if until else ", no expiry")
        + " (shown once; store it now):",
        markup=False,
    )
    print(issued.secret)  # plain stdout, one line: scripts can capture it


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Argument(help="Only this account's tokens.")] = None,
) -> None:
    """List API tokens (never their values): id, owner, name, state, dates."""
    context = cli_context(ctx)
    now = utcnow()
    with context.database.session() as session:
        user = None
        if username is not None:
            user = find_user(session, username)
            if user is None:
                context.console.print(f"[red]no user {username!r}[/red]")
                raise typer.Exit(1)
        for token, owner in list_tokens(session, user):
            if token.revoked_at is not None:
                state = "revoked"
            elif token.expires_at is not None and token.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            expires = f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "-"
            typer.echo(
                f"{token.id}\t{owner}\t{token.name or '-'}\t{state}\tcreated {token.created_at:%Y-%m-%d}"
                f"\texpires {expires}\tlast used {used}"
            )


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context, token_id: Annotated[int, typer.Argument(help="Token id (from `token list`).")]
) -> None:
    """Revoke an API token: requests with it are refused from now on."""
    context = cli_context(ctx)
    with context.database.session() as session:
        try:
            token = revoke_token(session, token_id)
        except ValueError as exc:
            context.console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
        context.console.print(f"revoked token {token.id}", markup=False)
