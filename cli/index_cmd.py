"""``xinlian index drain|status|reindex``: the search projection (step 7)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console

from cli.context import cli_context
from index.backend import BackendHealth, IndexStats, SearchBackendError
from index.factory import open_backend
from index.outbox import IndexStatus, drain_outbox, index_status, reindex

app = typer.Typer(help="Keep the search index in step with the database.", no_args_is_help=True)


@app.command("drain")
def drain(ctx: typer.Context) -> None:
    """Apply pending index updates from the outbox."""
    context = cli_context(ctx)
    settings = context.settings
    backend = open_backend(settings)
    try:
        stats = drain_outbox(context.database, backend, settings.search.outbox_batch, zone=settings.timezone)
    finally:
        backend.close()
    context.console.print(str(stats))


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")] = False,
) -> None:
    """Outbox lag and failures, the index's size and content, and whether the backend answers."""
    context = cli_context(ctx)
    settings = context.settings
    outbox = index_status(context.database, max_attempts=settings.search.outbox_max_attempts)
    backend = open_backend(settings)
    try:
        health = backend.health()
        stats: IndexStats | None = None
        stats_error = ""
        try:
            stats = backend.stats()
        except SearchBackendError as exc:  # a backend that does not answer has no stats to show
            stats_error = str(exc)
    finally:
        backend.close()
    if as_json:
        report = {
            "outbox": outbox.as_dict(),
            "index": asdict(stats) if stats is not None else None,
            "health": asdict(health),
        }
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_status(context.console, outbox, stats, stats_error, health)
    if not health.ok:
        raise typer.Exit(1)  # monitoring can rely on the exit status


def _print_status(
    console: Console, outbox: IndexStatus, stats: IndexStats | None, stats_error: str, health: BackendHealth
) -> None:
    console.print(str(outbox), markup=False)
    if stats is not None:
        states = ", ".join(f"{state} {count}" for state, count in sorted(stats.by_state.items()))
        size = "-" if stats.size_bytes is None else f"{stats.size_bytes / 1e6:.1f} MB"
        console.print(
            f"index {stats.backend} at {stats.location}: {stats.documents} documents ({states}), {size}",
            markup=False,
        )
    else:
        console.print(f"index: no statistics ({stats_error})", markup=False)
    verdict = "ok" if health.ok else "NOT OK"
    console.print(f"backend health: {verdict}: {health.detail}", markup=False)


@app.command("reindex")
def reindex_(ctx: typer.Context) -> None:
    """Rebuild the index from the database (search keeps answering meanwhile)."""
    context = cli_context(ctx)
    backend = open_backend(context.settings)
    try:
        result = reindex(context.database, backend, zone=context.settings.timezone)
    finally:
        backend.close()
    context.console.print(str(result))
