"""``xinlian users add``: staff accounts (admin, moderator, viewer)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import cli_context
from hub.models import Role
from hub.users import create_user

app = typer.Typer(help="Manage staff accounts.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option(help="admin, moderator or viewer.")] = Role.MODERATOR,
    display_name: Annotated[str, typer.Option(help="Name shown as the responsible reviewer.")] = "",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password (prompted).")
    ] = "",
) -> None:
    """Create a staff account."""
    context = cli_context(ctx)
    with context.database.session() as session:
        user = create_user(session, username, password, role.value, display_name=display_name)
        context.console.print(f"created {user.role} {user.username}")
