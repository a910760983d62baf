"""Crawl runs and per-source outcomes (docs/architecture.md steps 5 and 9).

One outcome row per source per run; writing it also updates the source's counters and schedules
its next check, so the health views and the scheduler read one consistent picture.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Insert, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.fetchstats import FetchStats, RedirectFacts, count_redirect, fetch_columns, url_taken
from hub.models import CrawlOutcome, CrawlRun, Source, core_table
from hub.secreturl import masked_text
from hub.timeutil import utcnow

OUTCOME_STATUSES = frozenset({"ok", "not_modified", "failed"})
ERROR_KINDS = frozenset(
    {
        "timeout",
        "dns",
        "refused",
        "connection",
        "http_4xx",
        "http_5xx",
        "redirect_loop",
        "too_large",
        "parse_error",
        "encoding",
        "blocked_private",
        "robots",
        "rate_limited",
        "tls",
        "aborted",
        "error",
    }
)
MESSAGE_MAX = 2000
ABORTED_KIND = "aborted"  # the error kind of a crawl we stopped ourselves
# CrawlRun.status
RUNNING = "running"
FINISHED = "finished"
ABANDONED = "abandoned"

logger = logging.getLogger(__name__)


def start_run(
    session: Session,
    trigger: str,
    source_ids: Iterable[int],
    now: datetime | None = None,
    owner: str | None = None,
) -> CrawlRun:
    """Create a CrawlRun for ``source_ids`` (flushed, so it has an id), run by ``owner`` (host:pid)."""
    now = now or utcnow()
    run = CrawlRun(
        trigger=trigger,
        started_at=now,
        sources_total=len(list(source_ids)),
        status=RUNNING,
        owner=owner[:200] if owner else None,
        heartbeat_at=now,
    )
    session.add(run)
    session.flush()
    return run


def heartbeat(session: Session, run_id: int, now: datetime | None = None) -> None:
    """The run's process is alive: the abandoned-run sweep leaves the run alone for a while longer."""
    session.execute(
        update(CrawlRun)
        .where(CrawlRun.id == run_id, CrawlRun.finished_at.is_(None))
        .values(heartbeat_at=now or utcnow())
    )


def close_abandoned_runs(session: Session, stale_after_s: float, now: datetime | None = None) -> list[int]:
    """Close the open runs whose process gave no sign of life for ``stale_after_s`` (it was killed, or
    its machine went down) as "abandoned", with the totals of the outcomes they wrote; returns their ids.

    Their sources without an outcome are not touched: they keep their lease and are crawled again when
    it runs out. A run closed here that was only slow is closed again, "finished", by its own process.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=stale_after_s)
    last_sign = func.coalesce(CrawlRun.heartbeat_at, CrawlRun.started_at)
    runs = session.scalars(
        select(CrawlRun).where(CrawlRun.status == RUNNING, CrawlRun.finished_at.is_(None), last_sign < cutoff)
    ).all()
    for run in runs:
        _sum_outcomes(session, run)
        run.status = ABANDONED
        run.finished_at = now
    session.flush()
    return [run.id for run in runs]


@dataclass(slots=True, kw_only=True)
class Outcome:
    """One source's outcome in one run (record_outcome's arguments; the batch writer takes a list)."""

    run_id: int
    source_id: int
    status: str
    error_kind: str | None = None
    http_status: int | None = None
    message: str | None = None
    items_seen: int = 0
    items_new: int = 0
    items_updated: int = 0
    duration_ms: int = 0
    items_removed: int = 0
    etag: str | None = None
    last_modified: str | None = None
    finished_at: datetime = field(default_factory=utcnow)
    retry_after_s: float | None = None
    fetch: FetchStats | None = None
    ttl_s: int | None = None
    max_age_s: int | None = None
    body_hash: str | None = None

    def __post_init__(self) -> None:
        if self.status not in OUTCOME_STATUSES:
            raise ValueError(f"unknown crawl outcome status {self.status!r}")
        if self.status == "failed" and self.error_kind not in ERROR_KINDS:
            raise ValueError(f"failed outcome needs a known error_kind, got {self.error_kind!r}")
        # Shown on staff pages and in alerts: a URL quoted in it loses its secrets (hub/secreturl.py).
        self.message = masked_text(self.message)[:MESSAGE_MAX] if self.message else None
        if self.status != "failed":
            self.error_kind = None


class SourceFacts(RedirectFacts, Protocol):
    """The source columns an outcome reads and changes: a Source, or the batch writer's record."""

    check_interval_s: int
    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    body_hash: str | None
    parsed_at: datetime | None
    consecutive_failures: int
    total_failures: int
    last_status_code: int | None
    last_error_kind: str | None
    last_error: str | None
    leased_until: datetime | None
    lease_owner: str | None
    next_check_at: datetime | None
    retry_after_until: datetime | None
    entries_pending: int
    feed_ttl_s: int | None
    max_age_s: int | None


def record_outcome(
    session: Session,
    run_id: int,
    source_id: int,
    status: str,
    error_kind: str | None = None,
    http_status: int | None = None,
    message: str | None = None,
    items_seen: int = 0,
    items_new: int = 0,
    items_updated: int = 0,
    duration_ms: int = 0,
    items_removed: int = 0,
    etag: str | None = None,
    last_modified: str | None = None,
    now: datetime | None = None,
    retry_after_s: float | None = None,
    fetch: FetchStats | None = None,
    flush: bool = True,
    ttl_s: int | None = None,
    max_age_s: int | None = None,
    body_hash: str | None = None,
) -> bool:
    """Write the outcome of one source in one run and update the source's counters and next check.

    ``retry_after_s`` (a 429's Retry-After) replaces the source's interval for this one next check.
    ``ttl_s`` (the feed's ``<ttl>``) and ``max_age_s`` (Cache-Control of the source URL's answer) are
    kept for the schedule (hub/schedule/headers.py turns the header values into seconds).
    The outcome row is written at once; ``flush=False`` leaves the source's changes to the caller's
    next flush. A source that has an outcome in the run already keeps it: this one is logged and dropped
    (nothing of it reaches the source), and False is returned.
    ``body_hash`` (crawlers/bodyhash.py) is stored with a successful outcome; None leaves the stored
    one, "" clears it (the next answer is parsed even if its bytes are the same).
    A batch of outcomes is cheaper written with ``record_outcomes`` (no ORM objects; same decisions).
    """
    outcome = Outcome(
        run_id=run_id,
        source_id=source_id,
        status=status,
        error_kind=error_kind,
        http_status=http_status,
        message=message,
        items_seen=items_seen,
        items_new=items_new,
        items_updated=items_updated,
        duration_ms=duration_ms,
        items_removed=items_removed,
        etag=etag,
        last_modified=last_modified,
        finished_at=now or utcnow(),
        retry_after_s=retry_after_s,
        fetch=fetch,
        ttl_s=ttl_s,
        max_age_s=max_age_s,
        body_hash=body_hash,
    )
    source = session.get(Source, source_id)
    columns = outcome_columns(outcome)
    written = insert_outcome_rows(session, [columns])
    if written and source is not None:
        apply_outcome(source, outcome, lambda other_id, url: url_taken(session, other_id, url))
    if flush:
        session.flush()
    return bool(written)


def insert_outcome_rows(session: Session, rows: Sequence[dict[str, Any]]) -> set[tuple[int, int]]:
    """Insert outcome rows (``outcome_columns``), skipping any whose (run, source) has one already;
    returns the (run id, source id) of the rows written. The rest of the batch is written either way.

    The first outcome of a source in a run wins (the store's unique index, migration 0007): a late one,
    such as a frontier joiner's after the runner stopped waiting and recorded the source aborted, is
    logged and dropped, so neither write fails and the run's totals count the source once.
    """
    if not rows:
        return set()
    table = core_table(CrawlOutcome)
    keys = (table.c.run_id, table.c.source_id)
    statement: Insert
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    else:  # no portable "skip": the unique index refuses a duplicate
        statement = insert(table)
    written = {(run_id, source_id) for run_id, source_id in session.execute(statement.returning(*keys), rows)}
    for row in rows:
        if (row["run_id"], row["source_id"]) not in written:
            logger.warning(
                "crawl run %d: source %d has an outcome already; this later one (%s %s) is dropped",
                row["run_id"],
                row["source_id"],
                row["status"],
                row["error_kind"] or "",
            )
    return written


def outcome_columns(outcome: Outcome) -> dict[str, Any]:
    """The CrawlOutcome row of ``outcome`` (column name: value, every column but the id)."""
    return {
        "run_id": outcome.run_id,
        "source_id": outcome.source_id,
        "status": outcome.status,
        "error_kind": outcome.error_kind,
        "http_status": outcome.http_status,
        "message": outcome.message,
        "items_seen": outcome.items_seen,
        "items_new": outcome.items_new,
        "items_updated": outcome.items_updated,
        "items_removed": outcome.items_removed,
        "duration_ms": outcome.duration_ms,
        "finished_at": outcome.finished_at,
        **fetch_columns(outcome.fetch),
    }


def apply_outcome(source: SourceFacts, outcome: Outcome, taken: Callable[[int, str], bool]) -> None:
    """What ``outcome`` changes on its source: counters, validators, body hash, lease, next check and the
    permanent-redirect count. ``taken(source_id, url)``: another source has ``url`` already."""
    now, status = outcome.finished_at, outcome.status
    source.last_checked_at = now
    source.last_status_code = outcome.http_status
    aborted = status == "failed" and outcome.error_kind == ABORTED_KIND
    _schedule_facts(source, outcome, aborted)
    if status == "failed":
        source.consecutive_failures = (source.consecutive_failures or 0) + 1
        source.total_failures = (source.total_failures or 0) + 1
        source.last_error_kind = outcome.error_kind
        source.last_error = outcome.message
    else:
        source.last_success_at = now
        source.consecutive_failures = 0
        source.last_error_kind = None
        source.last_error = None
        if outcome.etag is not None:
            source.etag = outcome.etag[:300]
        if outcome.last_modified is not None:
            source.last_modified = outcome.last_modified[:100]
        if outcome.body_hash is not None:
            source.body_hash = outcome.body_hash or None
        if status == "ok":  # the answer was parsed (a 304 or the same bytes are "not_modified")
            source.parsed_at = now
    if outcome.items_new:
        source.last_new_item_at = now
    if outcome.fetch is not None:
        count_redirect(source, outcome.fetch, taken)


def _schedule_facts(source: SourceFacts, outcome: Outcome, aborted: bool) -> None:
    """The crawl ends the source's lease; its next check is one interval ahead (or its Retry-After).

    A crawl we aborted (the worker stopped or its crawl process died) said nothing about the source: it
    is due again at once (or when a pending Retry-After ends), not an interval later.
    This is the provisional next check of every crawl path: after a worker's crawl run,
    hub/schedule/reschedule.py replaces it with the adaptive one, using the facts kept here.
    """
    now, retry_after_s = outcome.finished_at, outcome.retry_after_s
    source.leased_until = None
    source.lease_owner = None
    if aborted:
        pending = source.retry_after_until
        source.next_check_at = max(now, pending) if pending is not None else now
        return
    wait_s = retry_after_s if retry_after_s is not None else source.check_interval_s
    source.next_check_at = now + timedelta(seconds=wait_s)
    source.retry_after_until = now + timedelta(seconds=retry_after_s) if retry_after_s is not None else None
    source.entries_pending = (source.entries_pending or 0) + outcome.items_new
    if outcome.status == "ok":  # a parsed answer: no <ttl> in it means none
        source.feed_ttl_s = outcome.ttl_s
    if outcome.status != "failed":
        source.max_age_s = outcome.max_age_s


def recorded_source_ids(session: Session, run_id: int) -> set[int]:
    """Sources that already have an outcome in this run."""
    return set(session.scalars(select(CrawlOutcome.source_id).where(CrawlOutcome.run_id == run_id)))


def count_outcomes(session: Session, run_id: int) -> int:
    """How many sources of the run have finished (for progress reports)."""
    return session.scalar(select(func.count()).where(CrawlOutcome.run_id == run_id)) or 0


def finish_run(
    session: Session,
    run_id: int,
    missing_source_ids: Iterable[int] = (),
    missing_kind: str = "aborted",
    missing_message: str = "the crawl ended before this source was finished",
    now: datetime | None = None,
    missing_messages: Mapping[int, str] | None = None,
) -> CrawlRun:
    """Close the run: sources without an outcome get a failed one (with their message in
    ``missing_messages`` if they have one there, else ``missing_message``), then the totals are summed."""
    now = now or utcnow()
    run = session.get(CrawlRun, run_id)
    if run is None:
        raise ValueError(f"unknown crawl run {run_id}")
    done = recorded_source_ids(session, run_id)
    for source_id in missing_source_ids:
        if source_id not in done:
            message = (missing_messages or {}).get(source_id, missing_message)
            record_outcome(session, run_id, source_id, "failed", missing_kind, message=message, now=now)
            done.add(source_id)
    _sum_outcomes(session, run)
    run.status = FINISHED
    run.finished_at = now
    session.flush()
    return run


def _sum_outcomes(session: Session, run: CrawlRun) -> None:
    # Summed in SQL: a run of many sources need not load every outcome row.
    run_id = run.id
    total, failed, new, updated, removed = session.execute(
        select(
            func.count(CrawlOutcome.id),
            func.coalesce(func.sum(case((CrawlOutcome.status == "failed", 1), else_=0)), 0),
            func.coalesce(func.sum(CrawlOutcome.items_new), 0),
            func.coalesce(func.sum(CrawlOutcome.items_updated), 0),
            func.coalesce(func.sum(CrawlOutcome.items_removed), 0),
        ).where(CrawlOutcome.run_id == run_id)
    ).one()
    run.sources_ok = int(total) - int(failed)
    run.sources_failed = int(failed)
    run.items_new = int(new)
    run.items_updated = int(updated)
    run.items_removed = int(removed)
    run.sources_total = max(run.sources_total, int(total))
