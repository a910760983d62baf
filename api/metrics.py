"""Prometheus metrics of one web app (docs/architecture.md step 8): ``/metrics`` in ``routes/health.py``.

Each app owns a registry (no process-wide default registry: two apps in one process, as in tests,
do not mix). Request latencies are a histogram per route template, method and status, observed by
``api/requestlog.py``. Everything about the hub's state is read from the store when Prometheus scrapes
(``StoreCollector``), so every web process reports the same numbers and nothing lives in globals:
items per moderation state, the index outbox's lag, sources failing by error kind, and crawl outcomes
per status and kind. Crawl outcomes are a counter computed from the ``crawl_outcomes`` table: the first
scrape counts every row, later scrapes only rows with a higher id (a primary-key range), so a restart
or another process reports the same totals and a scrape never rescans the whole table.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.db import Database
from hub.models import CrawlOutcome, Item, ItemState, OutboxEntry, Source

logger = logging.getLogger(__name__)
PREFIX = "xinlian"
# Latency buckets (seconds): the public search target is p99 <= 100 ms, pages p95 <= 50 ms.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class _OutcomeTotals:
    """Crawl outcome counts seen so far and the highest row id counted (guarded by ``lock``)."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_id: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class StoreCollector(Collector):
    """Gauges and counters read from the store at scrape time."""

    def __init__(self, database: Database, clock: Callable[[], datetime]) -> None:
        self._database = database
        self._clock = clock
        self._outcomes = _OutcomeTotals()

    def describe(self) -> Iterable[Metric]:
        # Names only: without describe() the registry would query the store when registering.
        return [
            GaugeMetricFamily(f"{PREFIX}_store_up", ""),
            GaugeMetricFamily(f"{PREFIX}_items", ""),
            GaugeMetricFamily(f"{PREFIX}_items_pending_revision", ""),
            GaugeMetricFamily(f"{PREFIX}_outbox_pending", ""),
            GaugeMetricFamily(f"{PREFIX}_outbox_failing", ""),
            GaugeMetricFamily(f"{PREFIX}_outbox_oldest_age_seconds", ""),
            GaugeMetricFamily(f"{PREFIX}_sources", ""),
            CounterMetricFamily(f"{PREFIX}_crawl_outcomes", ""),
        ]

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(f"{PREFIX}_store_up", "1 when the store answered this scrape.")
        try:
            with self._database.session() as session:
                families = list(self._families(session))
        except SQLAlchemyError:
            logger.exception("metrics: the store did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, session: Session) -> Iterator[Metric]:
        now = self._clock()
        items = GaugeMetricFamily(f"{PREFIX}_items", "Items per moderation state.", labels=["state"])
        counts: dict[str, int] = {
            state: count
            for state, count in session.execute(select(Item.state, func.count()).group_by(Item.state))
        }
        for state in ItemState:
            items.add_metric([state.value], counts.get(state.value, 0))
        yield items
        revisions = session.scalar(select(func.count()).where(Item.pending_revision.is_not(None)))
        yield GaugeMetricFamily(
            f"{PREFIX}_items_pending_revision",
            "Live items with a changed revision waiting for review.",
            value=revisions or 0,
        )
        pending, failing, oldest = session.execute(
            select(
                func.count(),
                func.count().filter(OutboxEntry.attempts > 0),
                func.min(OutboxEntry.created_at),
            )
        ).one()
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_pending", "Index outbox rows not applied yet.", value=pending or 0
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_failing", "Index outbox rows whose last attempt failed.", value=failing or 0
        )
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_age_seconds",
            "Age of the oldest pending index outbox row (0 when empty): how far search lags the store.",
            value=age,
        )
        yield self._sources(session)
        yield self._crawl_outcomes(session)

    def _sources(self, session: Session) -> Metric:
        sources = GaugeMetricFamily(
            f"{PREFIX}_sources",
            "Enabled sources by the outcome of their last crawl (ok, never, or the failure kind).",
            labels=["last_outcome"],
        )
        failing = Source.consecutive_failures > 0
        kind = func.coalesce(Source.last_error_kind, "unknown")
        rows = session.execute(
            select(failing, kind, Source.last_checked_at.is_(None), func.count())
            .where(Source.enabled.is_(True))
            .group_by(failing, kind, Source.last_checked_at.is_(None))
        ).all()
        totals: Counter[str] = Counter()
        for is_failing, error_kind, never, count in rows:
            label = "never" if never else (error_kind if is_failing else "ok")
            totals[label] += count
        for label, count in sorted(totals.items()):
            sources.add_metric([label], count)
        return sources

    def _crawl_outcomes(self, session: Session) -> Metric:
        family = CounterMetricFamily(
            f"{PREFIX}_crawl_outcomes",
            "Crawl outcomes recorded, by status (ok, not_modified, failed) and failure kind.",
            labels=["status", "kind"],
        )
        totals = self._outcomes
        with totals.lock:
            rows = session.execute(
                select(CrawlOutcome.status, CrawlOutcome.error_kind, func.count(), func.max(CrawlOutcome.id))
                .where(CrawlOutcome.id > totals.last_id)
                .group_by(CrawlOutcome.status, CrawlOutcome.error_kind)
            ).all()
            for status, kind, count, top in rows:
                totals.counts[(status, kind or "")] += count
                totals.last_id = max(totals.last_id, top)
            for (status, kind), count in sorted(totals.counts.items()):
                family.add_metric([status, kind], count)
        return family


@dataclass(frozen=True)
class AppMetrics:
    """The registry of one app and the request histogram the request observer feeds."""

    registry: CollectorRegistry
    requests: Histogram

    @classmethod
    def create(cls, database: Database, clock: Callable[[], datetime]) -> AppMetrics:
        registry = CollectorRegistry(auto_describe=True)
        requests = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time to answer HTTP requests, by route template, method and status.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        registry.register(StoreCollector(database, clock))
        return cls(registry, requests)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        self.requests.labels(route, method, str(status)).observe(seconds)

    def exposition(self) -> bytes:
        """The Prometheus text exposition of every metric, reading the store now."""
        return generate_latest(self.registry)
