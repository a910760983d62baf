"""Which homepages are due for a probe, and what a probe leaves in the store.

Every enabled source with a web address has a homepage: its unit's website when that is on the
source's host, else the root of the source's host. Accounts (Weibo/WeChat behind a bridge) have none:
their health comes from their crawls alone. Sources sharing a homepage share one request.
A probe is claimed with a conditional UPDATE on ``source_health.next_probe_at`` (like the crawl's
lease), so two workers never probe one source at once and a killed worker's sources come due again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.health.probe import MESSAGE_MAX, ProbeResult, ProbeTarget
from hub.models import HealthProbe, Source, SourceHealth, SourceKind, Unit, core_table

CLAIM_CHUNK = 500  # ids per conditional UPDATE (parameter limits of SQLite)


def homepage_of(source_url: str, kind: str, website: str | None) -> str | None:
    """The homepage probed for a source, or None (accounts, non-web URLs)."""
    if kind == SourceKind.ACCOUNT.value:
        return None
    parts = urlsplit(source_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if website:
        site = urlsplit(website)
        if site.scheme in ("http", "https") and site.netloc == parts.netloc:
            return website
    return f"{parts.scheme}://{parts.netloc}/"


def ensure_health_rows(session: Session) -> None:
    """A source_health row for every source that has none (concurrent callers are harmless)."""
    missing = session.scalars(
        select(Source.id).where(
            ~select(SourceHealth.source_id).where(SourceHealth.source_id == Source.id).exists()
        )
    ).all()
    if not missing:
        return
    dialect = session.get_bind().dialect.name
    rows = [{"source_id": source_id} for source_id in missing]
    if dialect == "postgresql":
        session.execute(postgresql.insert(core_table(SourceHealth)).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        session.execute(sqlite.insert(core_table(SourceHealth)).on_conflict_do_nothing(), rows)
    else:
        session.execute(core_table(SourceHealth).insert(), rows)


def claim_probes(
    session: Session,
    now: datetime,
    lease_s: float,
    limit: int | None = None,
    source_ids: Sequence[int] | None = None,
) -> dict[int, ProbeTarget]:
    """Due sources (or ``source_ids``, due or not) leased for ``lease_s``: source id -> what to probe."""
    ensure_health_rows(session)
    query = (
        select(Source.id, Source.url, Source.kind, Unit.website, SourceHealth.next_probe_at)
        .join(Unit, Unit.id == Source.unit_id)
        .join(SourceHealth, SourceHealth.source_id == Source.id)
        .where(Source.enabled.is_(True), Source.kind != SourceKind.ACCOUNT.value)
        .order_by(SourceHealth.next_probe_at.asc().nulls_first(), Source.id)
    )
    if source_ids is not None:
        query = query.where(Source.id.in_(list(source_ids)))
    else:
        query = query.where(or_(SourceHealth.next_probe_at.is_(None), SourceHealth.next_probe_at <= now))
    if limit is not None:
        query = query.limit(limit)
    targets: dict[int, ProbeTarget] = {}
    for row in session.execute(query):
        homepage = homepage_of(row.url, row.kind, row.website)
        if homepage is not None:
            targets[row.id] = ProbeTarget(homepage, row.url)
    lease_until = now + timedelta(seconds=lease_s)
    claimed: set[int] = set()
    ids = list(targets)
    for start in range(0, len(ids), CLAIM_CHUNK):
        chunk = ids[start : start + CLAIM_CHUNK]
        statement = update(SourceHealth).where(SourceHealth.source_id.in_(chunk))
        if source_ids is None:  # an explicit probe ("probe now") ignores the schedule, not a lease
            statement = statement.where(
                or_(SourceHealth.next_probe_at.is_(None), SourceHealth.next_probe_at <= now)
            )
        result = session.execute(
            statement.values(next_probe_at=lease_until).returning(SourceHealth.source_id),
            execution_options={"synchronize_session": False},
        )
        claimed.update(result.scalars())
    return {source_id: target for source_id, target in targets.items() if source_id in claimed}


def store_probe_results(
    session: Session, results: Sequence[tuple[int, ProbeResult]], now: datetime, interval_s: float
) -> None:
    """One health_probes row per source, its latest probe on its source_health row, its next probe due."""
    if not results:
        return
    session.execute(
        core_table(HealthProbe).insert(),
        [
            {
                "source_id": source_id,
                "url": result.url,
                "probed_at": now,
                "reachable": result.reachable,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "error_kind": result.error_kind,
                "message": (result.message or None) and result.message[:MESSAGE_MAX],
                "redirects": result.redirects,
                "tls_expires_at": result.tls_expires_at,
                "robots_blocked": result.robots_blocked,
            }
            for source_id, result in results
        ],
    )
    next_probe = now + timedelta(seconds=interval_s)
    table = core_table(SourceHealth)
    session.execute(
        update(table).where(table.c.source_id == bindparam("sid")),  # "sid": not a column name
        [
            {
                "sid": source_id,
                "next_probe_at": next_probe,
                "probed_at": now,
                "probe_url": result.url,
                "reachable": result.reachable,
                "http_status": result.status_code,
                "latency_ms": result.latency_ms,
                "probe_error_kind": result.error_kind,
                "probe_message": (result.message or None) and result.message[:MESSAGE_MAX],
                "redirects": result.redirects,
                "tls_expires_at": result.tls_expires_at,
                "robots_blocked": result.robots_blocked,
            }
            for source_id, result in results
        ],
    )


def prune_probes(session: Session, now: datetime, keep_days: int) -> int:
    """Delete probe results older than ``keep_days``; returns how many."""
    result = session.execute(
        delete(HealthProbe).where(HealthProbe.probed_at < now - timedelta(days=keep_days))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
