"""``xinlian crawl``: crawl sources now on a crawl pool started for the run, with a progress bar and a summary
(steps 4-5); ``xinlian crawl join``: lend this machine's crawl processes to other machines' frontier runs."""

from __future__ import annotations

import random
import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.context import cli_context
from crawlers.pool import CrawlPool
from crawlers.runner import CrawlSummary
from crawlers.runner import crawl as run_crawl
from hub.schedule.hooks import status_hooks
from hub.schedule.reschedule import reschedule_run
from hub.settings import Settings
from hub.timeutil import utcnow
from index.factory import open_backend
from index.outbox import drain_outbox

app = typer.Typer(help="Crawl sources now, or join other machines' frontier runs (crawl join).")


@app.callback(invoke_without_command=True)
def crawl(
    ctx: typer.Context,
    source: Annotated[
        list[int] | None, typer.Option("--source", "-s", help="Source id (repeatable).")
    ] = None,
    drain: Annotated[bool, typer.Option(help="Apply pending index updates afterwards.")] = True,
) -> None:
    """Crawl the given sources, or every enabled source."""
    if ctx.invoked_subcommand is not None:
        return
    context = cli_context(ctx)
    settings = context.settings
    summary = crawl_with_progress(context.console, settings, source or None)
    print_summary(context.console, summary)
    # The crawled sources get their adaptive next check, as after a worker's tick.
    websub_poll_s = settings.websub.safety_poll_s if settings.websub.enabled else None
    with context.database.session() as session:
        reschedule_run(
            session,
            summary.run_id,
            settings.schedule,
            utcnow(),
            random.Random(),
            status_hooks(settings),
            websub_poll_s,
        )
    if drain:
        backend = open_backend(context.settings)
        try:
            drain_outbox(context.database, backend, zone=context.settings.timezone)
        finally:
            backend.close()
    if summary.sources_failed:
        context.console.print(f"[yellow]{summary.sources_failed} source(s) failed; see above.[/yellow]")


@app.command("join")
def join(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option(help="Join the runs open now and return when done with them (else run until stopped)."),
    ] = False,
    processes: Annotated[
        int | None,
        typer.Option(min=1, help="Crawl processes to lend (default: crawl.processes or the cores)."),
    ] = None,
) -> None:
    """Lend this machine's crawl processes to frontier runs of other machines (docs/deploy.md): each takes
    one of a run's crawl.frontier_remote_processes slots and fetches from its shared queue."""
    context = cli_context(ctx)
    settings = context.settings
    if not settings.crawl.frontier_url:
        context.fail(
            "configuration error", ValueError("crawl join needs crawl.frontier_url (the runners' Redis)")
        )
    context.database.dispose()  # the store must hold this version's schema: our processes write to it
    import redis  # the optional frontier extra: only for this command

    from crawlers.frontier.client import connect
    from crawlers.frontier.joiner import Joiner

    client = connect(settings.crawl.frontier_url, settings.crawl.frontier_timeout_s)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        context.fail("frontier unreachable (check crawl.frontier_url)", exc)
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop.set()  # the joined runs are cancelled here, as a local process's are

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        with CrawlPool(settings, processes) as pool:
            joiner = Joiner(settings, pool, client)
            joiner.run(stop, once=once)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        client.close()
    runs = sorted(set(joiner.joined))
    context.console.print(f"joined {len(joiner.joined)} time(s): runs {runs}" if runs else "joined no run")


def crawl_with_progress(
    console: Console, settings: Settings, source_ids: list[int] | None, trigger: str = "cli"
) -> CrawlSummary:
    """Run a crawl while drawing a progress bar of finished sources."""
    with Progress(
        TextColumn("crawling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("crawl", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return run_crawl(settings, source_ids, trigger=trigger, on_progress=on_progress)


def print_summary(console: Console, summary: CrawlSummary) -> None:
    """A table of sources by outcome, then the totals."""
    table = Table("source", "status", "error", "items seen", "new", "updated")
    for outcome in summary.outcomes:
        style = "red" if outcome.status == "failed" else ""
        table.add_row(
            outcome.source_name,
            outcome.status,
            outcome.error_kind or "",
            str(outcome.items_seen),
            str(outcome.items_new),
            str(outcome.items_updated),
            style=style,
        )
    console.print(table)
    console.print(
        f"run {summary.run_id}: {summary.sources_ok} ok, {summary.sources_failed} failed, "
        f"{summary.items_new} new, {summary.items_updated} updated in {summary.wall_s:.1f}s"
    )
