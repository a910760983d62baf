"""A frontier run's Redis record, opened by the runner before the crawl processes start and deleted
with every key of the run when it ends (however it ends)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from crawlers.frontier.keys import RunKeys

logger = logging.getLogger(__name__)


@contextmanager
def frontier_run(url: str, keys: RunKeys, sources: int, processes: int) -> Iterator[None]:
    """Open run ``keys.run_id`` for ``sources`` frontier sources shared by ``processes`` crawl processes;
    delete every key of the run on the way out."""
    client = redis.Redis.from_url(url)
    try:
        client.hset(keys.run, mapping={"open": sources, "processes": processes, "progress": 0})
        yield
    finally:
        try:
            delete_run(client, keys)
        except redis.RedisError as exc:
            # Nothing is lost but memory: the keys name a finished run that nothing reads again.
            logger.warning("frontier keys of run %d not deleted (%s)", keys.run_id, exc)
        finally:
            client.close()


def delete_run(client: redis.Redis, keys: RunKeys) -> int:
    """Delete every key of the run; returns how many there were."""
    doomed = list(client.scan_iter(match=keys.pattern, count=1000))
    for start in range(0, len(doomed), 500):
        client.delete(*doomed[start : start + 500])
    return len(doomed)


def forget_runs(url: str, prefix: str, run_ids: list[int]) -> None:
    """Delete the keys of runs whose runner died (closed as abandoned by the next crawl): nothing else
    would, and nothing reads them."""
    client = redis.Redis.from_url(url)
    try:
        for run_id in run_ids:
            delete_run(client, RunKeys(prefix, run_id))
    except redis.RedisError as exc:
        logger.warning("frontier keys of abandoned runs %s not deleted (%s)", run_ids, exc)
    finally:
        client.close()
