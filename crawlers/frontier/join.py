"""A crawl process joins a frontier run: its ledger and its Scrapy crawler on the run's queue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import redis
from scrapy.crawler import Crawler
from scrapy.settings import Settings as ScrapySettings

from crawlers.frontier.keys import RunKeys
from crawlers.frontier.ledger import FrontierLedger
from crawlers.frontier.settings import HostBudget, frontier_scrapy_settings
from crawlers.ledger import SourceJob
from crawlers.spiders.htmllist import HtmlListSpider
from hub.db import Database
from hub.settings import Settings


def join_frontier(
    settings: Settings,
    client: redis.Redis,
    database: Database,
    writer: ThreadPoolExecutor,
    run_id: int,
    jobs: list[SourceJob],
) -> tuple[FrontierLedger, Crawler] | None:
    """The ledger and HTML crawler of run ``run_id`` in this process; ``jobs`` are the frontier sources it
    starts (their first requests go to the shared queue like every other). None: the run has no frontier
    (no HTML list sources), and ``jobs`` is empty."""
    keys = RunKeys(settings.crawl.frontier_key_prefix, run_id)
    processes, per_host, delay_s = client.hmget(keys.run, ["processes", "per_host", "delay_s"])
    if processes is None:  # the runner opens a frontier only for a run with HTML list sources
        return None
    # The runner's host budget, not ours: a joiner configured otherwise must not take more than its share.
    budget = HostBudget.from_record(per_host, delay_s, HostBudget.of(settings))
    ledger = FrontierLedger(
        database, run_id, jobs, client, keys, settings.crawl.removed_after_missing, writer=writer
    )
    # At the spider's priority: Scrapy 2.19's CrawlerProcess.crawl(crawler) updates a crawler's settings with
    # the process's own (crawlers/process.py: the run's defaults), which would undo the divided budget.
    values = ScrapySettings(
        frontier_scrapy_settings(settings, keys, int(processes), budget), priority="spider"
    )
    crawler = Crawler(HtmlListSpider, values)
    return ledger, crawler
