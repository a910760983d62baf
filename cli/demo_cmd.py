"""``xinlian demo``: the whole pipeline on the sample network, then the portal on localhost.

The demo has no ``xinlian worker``, so while the portal runs this process also runs the three worker
jobs a visitor notices (``demo_jobs``): our WebSub hub's verifications and deliveries, the index outbox
drain that makes a staff decision reach search and the feeds, and the health job that keeps the site
health page current. Crawling stays with the pipeline run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from apscheduler.schedulers.background import BackgroundScheduler

from api.feeds.hubjob import hub_job
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
from hub.health.job import health_job
from hub.scheduler import add_interval_jobs
from hub.settings import Settings
from index.backend import SearchBackend
from index.factory import open_backend
from index.outbox import drain_outbox

# The demo serves loopback only, so a subscriber the visitor runs next to it is on loopback too; the
# hub's guard refuses such callbacks unless their host is listed (websubhub.allowed_callback_hosts).
DEMO_CALLBACK_HOSTS = ("127.0.0.1", "localhost")
log = logging.getLogger("xinlian.demo")


def demo_serve_settings(settings: Settings) -> Settings:
    """The demo's settings with loopback WebSub callbacks allowed (added to any configured hosts)."""
    hosts = list(dict.fromkeys([*settings.websubhub.allowed_callback_hosts, *DEMO_CALLBACK_HOSTS]))
    hub = settings.websubhub.model_copy(update={"allowed_callback_hosts": hosts})
    return settings.model_copy(update={"websubhub": hub})


def demo_jobs(
    settings: Settings, database: Database, backend: SearchBackend
) -> list[tuple[str, Callable[[], None], float]]:
    """The worker jobs the demo runs beside the portal: ``(name, function, every_seconds)``."""

    def drain() -> None:
        stats = drain_outbox(database, backend, settings.search.outbox_batch, zone=settings.timezone)
        log.debug("outbox: %s", stats)

    return [
        ("drain", drain, settings.worker.drain_s),
        ("websubhub", hub_job(settings, database, backend), settings.websubhub.tick_s),
        # Statuses move with time (a site turns stale while the demo runs); probes stay daily.
        ("health", health_job(settings, database), settings.health.tick_s),
    ]


def start_demo_jobs(jobs: list[tuple[str, Callable[[], None], float]]) -> BackgroundScheduler:
    """The jobs running in this process's threads until the returned scheduler is shut down."""
    scheduler = BackgroundScheduler(timezone="UTC")
    add_interval_jobs(scheduler, jobs)
    scheduler.start()
    return scheduler


def demo_banner(settings: Settings) -> list[str]:
    """What the demo prints before serving: where to look, and the staff login it created."""
    root = f"http://{settings.web.host}:{settings.web.port}"
    return [
        f"\nportal:        {root}/",
        f"search 党建:    {root}/search?q=党建",
        f"JSON API:      {root}/api/v1/search?q=党建",
        f"moderation:    {root}/staff/queue",
        f"site health:   {root}/staff/health (which sites are stale, broken or unreachable)",
        f"WebSub hub:    {root}/websub/hub (subscriptions verified and delivered by this process)",
        f"staff login:   {DEMO_USER} / {DEMO_PASSWORD}  "
        "(sign in at /staff/login; HTTP Basic or an API token for the API)",
        "Ctrl-C stops the portal, its background jobs and the sample network.\n",
    ]


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
    settings = demo_serve_settings(demo_settings(context.settings, workdir.resolve()))
    with sample_network_running(settings) as running:
        console.print(f"sample network: {running.base_url}/")
        result = run_pipeline(settings, running, workdir, console)
        console.print(
            f"[green]{result.approved} items approved[/green] (trusted sources), "
            f"[yellow]{result.pending} pending[/yellow] in the moderation queue"
        )
        if not serve:
            return
        for line in demo_banner(settings):
            console.print(line, markup=False)
        import uvicorn

        from api.app import create_app  # the web stack loads only when the portal is served

        database = Database(settings.store.url)
        backend = open_backend(settings)  # one index handle: the portal reads it, the drain writes it
        scheduler = start_demo_jobs(demo_jobs(settings, database, backend))
        try:
            # uvicorn handles Ctrl-C itself and returns; the jobs stop after it, before the store closes.
            app = create_app(settings, database, backend)
            uvicorn.run(app, host=settings.web.host, port=settings.web.port, log_level="warning")
        finally:
            scheduler.shutdown(wait=True)
            backend.close()
            database.dispose()
