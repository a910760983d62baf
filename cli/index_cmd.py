"""``xinlian index drain|status|reindex``: the search projection (step 7)."""

from __future__ import annotations

import typer

from cli.context import cli_context
from index.factory import open_backend
from index.outbox import drain_outbox, index_status, reindex

app = typer.Typer(help="Keep the search index in step with the database.", no_args_is_help=True)


@app.command("drain")
def drain(ctx: typer.Context) -> None:
    """Apply pending index updates from the outbox."""
    context = cli_context(ctx)
    backend = open_backend(context.settings)
    try:
        stats = drain_outbox(context.database, backend)
    finally:
        backend.close()
    context.console.print(str(stats))


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Outbox lag and failures, and the number of indexed documents."""
    context = cli_context(ctx)
    context.console.print(str(index_status(context.database)))
    backend = open_backend(context.settings)
    try:
        context.console.print(f"documents in index: {backend.count()}")
    finally:
        backend.close()


@app.command("reindex")
def reindex_(ctx: typer.Context) -> None:
    """Rebuild the index from the database (search keeps answering meanwhile)."""
    context = cli_context(ctx)
    backend = open_backend(context.settings)
    try:
        result = reindex(context.database, backend)
    finally:
        backend.close()
    context.console.print(str(result))
