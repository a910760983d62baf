"""``xinlian serve``: the web app (portal, API, staff) — step 8."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import cli_context


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen address (default: web.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: web.port).")] = None,
) -> None:
    """Serve the portal, the JSON API and the staff API. Crawling never runs in this process."""
    import uvicorn

    from api.app import create_app  # the web stack loads only for the command that serves it
    from hub.logsetup import configure_logging, secret_values

    context = cli_context(ctx)
    settings = context.settings
    configure_logging(settings.log_level, settings.web.log_format, secret_values(settings))
    app = create_app(settings, context.database)
    # The app logs each request itself (request id, route template, masked secrets): uvicorn's own access
    # log would print raw paths. Proxy headers give the client address that login throttling keys on.
    uvicorn.run(
        app,
        host=host or settings.web.host,
        port=port or settings.web.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
