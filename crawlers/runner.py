"""Start a crawl in a worker process and follow it (docs/architecture.md step 4).

``crawl()`` creates the CrawlRun, hands the job to ``python -m crawlers.process`` through a 0600
temporary file (secrets never appear on a command line), reports progress by counting the run's
outcomes in the database, and returns a summary. If the child dies, the run is still closed, with
the unfinished sources recorded as failed ("aborted").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from hub.crawlrecord import count_outcomes, finish_run, start_run
from hub.db import Database
from hub.models import CrawlOutcome, CrawlRun, Source
from hub.settings import Settings

POLL_INTERVAL_S = 0.25
# A child that ignores SIGTERM this long is killed.
TERMINATE_GRACE_S = 10.0


@dataclass(slots=True, frozen=True)
class SourceOutcome:
    """How one source fared in the run."""

    source_id: int
    source_name: str
    url: str
    status: str
    error_kind: str | None
    http_status: int | None
    message: str | None
    items_seen: int
    items_new: int
    items_updated: int
    duration_ms: int


@dataclass(slots=True)
class CrawlSummary:
    """What one crawl run did."""

    run_id: int
    sources_total: int = 0
    sources_ok: int = 0
    sources_failed: int = 0
    items_new: int = 0
    items_updated: int = 0
    wall_s: float = 0.0
    exit_code: int = 0
    outcomes: list[SourceOutcome] = field(default_factory=list)


def _revealed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _revealed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_revealed(item) for item in value]
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value


def write_job_file(settings: Settings, run_id: int, source_ids: list[int]) -> Path:
    """The child's job as a JSON file readable by this user only (mkstemp creates it 0600)."""
    payload = {
        "settings": _revealed(settings.model_dump(mode="python")),
        "run_id": run_id,
        "source_ids": source_ids,
    }
    handle, name = tempfile.mkstemp(prefix="xinlian-crawl-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(payload, stream, default=str)
    return Path(name)


def _wait(child: subprocess.Popen[bytes], on_tick: Callable[[], None]) -> int:
    try:
        while True:
            try:
                return child.wait(timeout=POLL_INTERVAL_S)
            except subprocess.TimeoutExpired:
                on_tick()
    except BaseException:
        # Interrupted (Ctrl-C) or failing here: never leave a crawler running unsupervised.
        child.terminate()
        try:
            child.wait(timeout=TERMINATE_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


def crawl(
    settings: Settings,
    source_ids: list[int] | None = None,
    trigger: str = "cli",
    on_progress: Callable[[int, int], None] | None = None,
) -> CrawlSummary:
    """Crawl ``source_ids`` (default: every enabled source) in a worker process and summarize the run."""
    started = time.monotonic()
    database = Database(settings.store.url)
    try:
        with database.session() as session:
            if source_ids is None:
                source_ids = list(session.scalars(select(Source.id).where(Source.enabled.is_(True))))
            run = start_run(session, trigger, source_ids)
            run_id = run.id
        total = len(source_ids)
        exit_code: int | None = None
        try:
            exit_code = _run_child(settings, database, run_id, source_ids, on_progress) if source_ids else 0
        finally:
            # Interrupted, killed or crashed: close the run with the unfinished sources as failures.
            _close_run(database, run_id, source_ids, exit_code)
        if on_progress is not None:
            on_progress(total, total)
        summary = summarize(database, run_id)
        summary.wall_s = time.monotonic() - started
        summary.exit_code = exit_code or 0
        return summary
    finally:
        database.dispose()


def _close_run(database: Database, run_id: int, source_ids: list[int], exit_code: int | None) -> None:
    with database.session() as session:
        current = session.get(CrawlRun, run_id)
        if exit_code == 0 and current is not None and current.finished_at is not None:
            return
        how = "was interrupted" if exit_code is None else f"exited with code {exit_code}"
        finish_run(session, run_id, source_ids, missing_message=f"the crawl worker {how} first")


def _run_child(
    settings: Settings,
    database: Database,
    run_id: int,
    source_ids: list[int],
    on_progress: Callable[[int, int], None] | None,
) -> int:
    job_file = write_job_file(settings, run_id, source_ids)
    total = len(source_ids)

    def report() -> None:
        if on_progress is not None:
            with database.session() as session:
                on_progress(count_outcomes(session, run_id), total)

    try:
        child = subprocess.Popen([sys.executable, "-m", "crawlers.process", str(job_file)])
        return _wait(child, report)
    finally:
        job_file.unlink(missing_ok=True)


def summarize(database: Database, run_id: int) -> CrawlSummary:
    """The summary of a finished run, read back from the database."""
    with database.session() as session:
        run = session.get(CrawlRun, run_id)
        if run is None:
            raise ValueError(f"unknown crawl run {run_id}")
        rows = session.execute(
            select(CrawlOutcome, Source.name, Source.url)
            .join(Source, Source.id == CrawlOutcome.source_id)
            .where(CrawlOutcome.run_id == run_id)
            .order_by(CrawlOutcome.id)
        ).all()
        outcomes = [
            SourceOutcome(
                source_id=o.source_id,
                source_name=name,
                url=url,
                status=o.status,
                error_kind=o.error_kind,
                http_status=o.http_status,
                message=o.message,
                items_seen=o.items_seen,
                items_new=o.items_new,
                items_updated=o.items_updated,
                duration_ms=o.duration_ms,
            )
            for o, name, url in rows
        ]
        return CrawlSummary(
            run_id=run_id,
            sources_total=run.sources_total,
            sources_ok=run.sources_ok,
            sources_failed=run.sources_failed,
            items_new=run.items_new,
            items_updated=run.items_updated,
            outcomes=outcomes,
        )
