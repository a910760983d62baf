"""The crawl ledger of a frontier run: per-source counts shared through Redis (docs/deploy.md).

With a shared queue, a request one process created may be fetched and parsed by another, so a
process's own in-flight count says nothing about the source. Here the count lives in Redis (HINCRBY on a
per-run hash): ``begin`` adds one wherever a request or item is created, ``end`` takes one away wherever
it finishes, and the process whose ``end`` brings it to zero writes the outcome, once. Before each
``end`` a process publishes its part of the source's state in the same MULTI, so that process finds
every part (crawlers/frontier/merge.py). The URLs claimed for a source are a shared set, so two
processes never fetch one article twice. A request carries its source's job (the scheduler adopts it
on arrival), so a process needs no database read for a source it did not start.

Calls are plain redis-py round trips on the reactor thread (~0.1 ms each on a LAN): a few per page,
small beside a page's fetch and parse. The default path (``CrawlLedger``) makes none.

Redis failing a call (gone, restarting) loses the shared counts: a source whose ``end`` was not counted
can never be settled. The process then leaves the run (``lost``; the scheduler takes nothing more and
the spider closes once its requests in hand are done): no more Redis calls, its items are still stored,
and the runner records the sources left without an outcome as aborted (crawlers/runner.py).
"""

from __future__ import annotations

import logging
import os
import pickle
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import redis

from crawlers.frontier.keys import RunKeys
from crawlers.frontier.merge import Part, merge_parts
from crawlers.ledger import CrawlLedger, SourceJob, SourceState
from hub.db import Database

_T = TypeVar("_T")

logger = logging.getLogger(__name__)


class FrontierLedger(CrawlLedger):
    """A ``CrawlLedger`` whose per-source counts and URL claims are shared by the run's processes."""

    def __init__(
        self,
        database: Database,
        run_id: int,
        jobs: Iterable[SourceJob],
        client: redis.Redis,
        keys: RunKeys,
        removed_after_missing: int = 3,
        writer: ThreadPoolExecutor | None = None,
    ) -> None:
        super().__init__(database, run_id, jobs, removed_after_missing, writer)
        self.client = client
        self.keys = keys
        self.process_key = f"{os.uname().nodename}:{os.getpid()}"
        self.settled = 0  # outcomes this process wrote (the tests read it)
        self.lost: str | None = None  # why this process lost the run's Redis and left the run

    def redis_failed(self, exc: redis.RedisError) -> None:
        """A Redis call failed: leave the run (once said, nothing more is asked of Redis)."""
        if self.lost is None:
            self.lost = f"{type(exc).__name__}: {exc}"
            logger.warning(
                "frontier run %d: Redis failed (%s); this process leaves the run, its sources without an"
                " outcome are recorded aborted when the run ends",
                self.run_id,
                self.lost,
            )

    def ask(self, call: Callable[[], _T], fallback: _T) -> _T:
        """``call()`` on the run's Redis; ``fallback`` once Redis is lost, or when this call fails (the
        process then leaves the run: ``redis_failed``). The scheduler asks through it too."""
        if self.lost is not None:
            return fallback
        try:
            return call()
        except redis.RedisError as exc:
            self.redis_failed(exc)
            return fallback

    def adopt(self, job: SourceJob) -> None:
        """A request of ``job`` arrived from the queue: this process keeps its own part of the source."""
        if job.id not in self.states:
            self.states[job.id] = SourceState(job)

    def begin(self, source_id: int) -> None:
        self.states[source_id].in_flight += 1
        self.ask(lambda: self.client.hincrby(self.keys.in_flight, str(source_id), 1), None)

    def end(self, source_id: int) -> None:
        state = self.states[source_id]
        state.in_flight -= 1
        started = time.time() - (time.monotonic() - state.started)
        part: Part = (started, state)

        def publish() -> None:
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self.keys.parts(source_id), self.process_key, pickle.dumps(part))
            pipe.hincrby(self.keys.in_flight, str(source_id), -1)
            pipe.hincrby(self.keys.run, "progress", 1)
            _, left, _ = pipe.execute()
            if left == 0:
                self._settle(state.job)
            elif left < 0:  # a bug, not a race: every end follows its begin
                logger.error(
                    "frontier run %d: source %d ended more often than it began", self.run_id, source_id
                )

        self.ask(publish, None)

    def _settle(self, job: SourceJob) -> None:
        """Nothing of the source is in flight anywhere: join the parts and write its outcome."""
        blobs: dict[bytes, bytes] = self.client.hgetall(self.keys.parts(job.id))  # type: ignore[assignment]
        # Our own Redis, written by our own processes (docs/deploy.md: keep Redis private).
        parts: list[Part] = [pickle.loads(blob) for blob in blobs.values()]
        merged = merge_parts(job, parts)
        self.settled += 1
        self._finalize(merged)  # before the count below: the parts are whole even if Redis fails now
        self.client.hincrby(self.keys.run, "open", -1)

    def claim_url(self, source_id: int, url: str) -> bool:
        """False once Redis is lost: a URL no other process can see claimed is not fetched."""
        return self.ask(lambda: bool(self.client.sadd(self.keys.seen(source_id), url)), False)

    def seen_count(self, source_id: int) -> int:
        # 0 once Redis is lost: nothing more is claimed then (claim_url).
        return self.ask(lambda: int(self.client.scard(self.keys.seen(source_id))), 0)

    async def close(self, source_ids: Iterable[int], aborted: bool = False) -> None:
        """Wait for this process's writes; write no outcome of its own.

        A source still in flight when the process leaves the run (it was stopped, or a process holding
        its requests died) is not settled here: other processes may still hold its requests. The runner
        records every source left without an outcome as aborted when the run ends.
        """
        await super().close((), aborted)
