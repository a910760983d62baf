"""``xinlian demo``: the whole pipeline on the sample network, then the portal on localhost."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.context import cli_context
from cli.demo import (
    DEMO_PASSWORD,
    DEMO_USER,
    demo_settings,
    reset_workdir,
    run_pipeline,
    sample_network_running,
)
from hub.db import Database


def demo(
    ctx: typer.Context,
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its store and index.")] = Path(
        "var/demo"
    ),
    serve: Annotated[bool, typer.Option(help="Serve the portal after the pipeline ran.")] = True,
) -> None:
    """Start the sample network, import, crawl, approve trusted sources, index, and serve the portal."""
    context = cli_context(ctx)
    console = context.console
    reset_workdir(workdir)
    settings = demo_settings(context.settings, workdir.resolve())
    with sample_network_running(settings) as running:
        console.print(f"sample network: {running.base_url}/")
        result = run_pipeline(settings, running, workdir, console)
        console.print(
            f"[green]{result.approved} items approved[/green] (trusted sources), "
            f"[yellow]{result.pending} pending[/yellow] in the moderation queue"
        )
        if not serve:
            return
        web = settings.web
        console.print(f"\nportal:        http://{web.host}:{web.port}/")
        console.print(f"search 党建:    http://{web.host}:{web.port}/search?q=党建")
        console.print(f"JSON API:      http://{web.host}:{web.port}/api/v1/search?q=党建")
        console.print(f"moderation:    http://{web.host}:{web.port}/staff/queue")
        console.print(
            f"staff login:   {DEMO_USER} / {DEMO_PASSWORD}  "
            "(sign in at /staff/login; HTTP Basic or an API token for the API)"
        )
        console.print("Ctrl-C stops the portal and the sample network.\n")
        import uvicorn

        from api.app import create_app  # the web stack loads only when the portal is served

        database = Database(settings.store.url)
        try:
            uvicorn.run(create_app(settings, database), host=web.host, port=web.port, log_level="warning")
        finally:
            database.dispose()
