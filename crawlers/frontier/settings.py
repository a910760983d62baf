"""Scrapy settings of a frontier crawler: ours (crawlers/scrapy_settings.py) on the run's Redis queue, with
every host's budget divided among the run's processes.

Politeness: any process may fetch any host's pages, so each of the run's N processes gets 1/N of a host's
concurrency (at least one) and N times its delay and robots.txt Crawl-delay, as crawlers/partition.py does
for a host spread over N processes. This costs no Redis call per request and nothing can leak when a
process dies; the price is that a host with ``concurrent_per_host`` below N sees up to N requests at once
(docs/deploy.md).

The host budget divided is the runner's (``HostBudget``, kept in the run's Redis record): a joiner on
another machine whose own ``concurrent_per_host`` or ``download_delay_s`` differ still takes exactly its
share of what the runner allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crawlers.frontier.keys import RunKeys
from crawlers.scrapy_settings import scrapy_settings
from hub.settings import Settings


@dataclass(frozen=True, slots=True)
class HostBudget:
    """What one host may get from the whole run: requests at once, and the pause between two."""

    per_host: int
    delay_s: float

    @classmethod
    def of(cls, settings: Settings) -> HostBudget:
        return cls(settings.crawl.concurrent_per_host, settings.crawl.download_delay_s)

    def record(self) -> dict[str | bytes, int | float]:
        """The fields of the run's Redis record that carry it (crawlers/frontier/runs.py)."""
        return {"per_host": self.per_host, "delay_s": self.delay_s}

    @classmethod
    def from_record(
        cls, per_host: bytes | str | None, delay_s: bytes | str | None, fallback: HostBudget
    ) -> HostBudget:
        """The runner's budget as read back from the record; ``fallback`` for a record without one."""
        if per_host is None or delay_s is None:
            return fallback
        return cls(int(per_host), float(delay_s))


def frontier_scrapy_settings(
    settings: Settings, keys: RunKeys, processes: int, budget: HostBudget | None = None
) -> dict[str, Any]:
    """Settings of the frontier crawler of run ``keys.run_id`` shared by ``processes`` crawl processes,
    dividing ``budget`` (the runner's; by default this process's own settings)."""
    crawl = settings.crawl
    budget = budget or HostBudget.of(settings)
    shared = max(1, processes)
    values = scrapy_settings(settings)
    values.update(
        {
            "SCHEDULER": "crawlers.frontier.scheduler.FrontierScheduler",
            "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.FifoQueue",
            "SCHEDULER_QUEUE_KEY": keys.queue,
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
            # The runner deletes the run's keys when the run ends; the first process to leave must not.
            "SCHEDULER_PERSIST": True,
            "SCHEDULER_IDLE_BEFORE_CLOSE": 0,  # never block the reactor on an empty queue
            "REDIS_URL": crawl.frontier_url,
            # Merged into scrapy-redis's defaults (30 s each, one retry on a timeout): ours, as our clients'.
            "REDIS_PARAMS": {
                "socket_timeout": crawl.frontier_timeout_s,
                "socket_connect_timeout": crawl.frontier_timeout_s,
            },
            "XINLIAN_FRONTIER_RUN_KEY": keys.run,
            "XINLIAN_FRONTIER_STALL_S": crawl.frontier_stall_s,
            "CONCURRENT_REQUESTS_PER_DOMAIN": max(1, budget.per_host // shared),
            "DOWNLOAD_DELAY": budget.delay_s * shared,
            "XINLIAN_DEFAULT_HOST_SHARE": shared,  # crawldelay.py stretches Crawl-delay by it
        }
    )
    return values
