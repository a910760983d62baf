"""A frontier run's Redis record, opened by the runner before the crawl processes start and deleted
with every key of the run when it ends (however it ends); with remote slots, the run is listed in the
open-runs set while it runs, for joiners on other machines to find."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from crawlers.frontier.client import connect
from crawlers.frontier.keys import RunKeys, open_runs_key
from crawlers.frontier.settings import HostBudget
from crawlers.frontier.slots import wait_for_joiners

logger = logging.getLogger(__name__)


@contextmanager
def frontier_run(
    url: str,
    timeout_s: float,
    keys: RunKeys,
    sources: int,
    processes: int,
    remote: int = 0,
    joiners_wait_s: float = 0.0,
    budget: HostBudget | None = None,
    on_lost: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Open run ``keys.run_id`` for ``sources`` frontier sources shared by ``processes`` crawl processes, of
    which ``remote`` are slots for other machines' joiners (crawlers/frontier/slots.py); delete every key of
    the run on the way out. A run that ends normally first waits, at most ``joiners_wait_s``, for the
    processes that joined it to finish their writes. ``budget``: each host's, which every process divides
    (crawlers/frontier/settings.py); without it each process divides its own settings' budget.
    ``on_lost(why)`` is told at the run's end that Redis lost the run on the way (unreachable, or restarted
    without the run's keys): its processes left it, and the run is closed all the same. ``timeout_s``:
    how long one Redis call may take (``crawl.frontier_timeout_s``, crawlers/frontier/client.py)."""
    client = connect(url, timeout_s)
    try:
        record: dict[str | bytes, int | float] = {
            "open": sources,
            "processes": processes,
            "progress": 0,
            "remote": remote,
            "joined": 0,
        }
        if budget is not None:
            record.update(budget.record())
        client.hset(keys.run, mapping=record)  # type: ignore[arg-type]  # redis-py's Mapping is invariant
        if remote:
            client.sadd(open_runs_key(keys.prefix), keys.run_id)
        yield
        try:
            if not client.exists(keys.run):
                _lost(on_lost, keys, "lost the run's keys (restarted or flushed)")
            if remote:
                client.srem(open_runs_key(keys.prefix), keys.run_id)  # no one joins a run that is over
                if not wait_for_joiners(client, keys, joiners_wait_s):
                    logger.warning(
                        "frontier run %d: a joined process not done within %.0f s; the run is closed"
                        " without it",
                        keys.run_id,
                        joiners_wait_s,
                    )
        except redis.RedisError as exc:
            _lost(on_lost, keys, f"was unreachable ({type(exc).__name__}: {exc})")
    finally:
        try:
            client.srem(open_runs_key(keys.prefix), keys.run_id)
            delete_run(client, keys)
        except redis.RedisError as exc:
            # Nothing is lost but memory: the keys name a finished run that nothing reads again.
            logger.warning("frontier keys of run %d not deleted (%s)", keys.run_id, exc)
        finally:
            client.close()


def _lost(on_lost: Callable[[str], None] | None, keys: RunKeys, why: str) -> None:
    logger.warning("frontier run %d: Redis %s during the run", keys.run_id, why)
    if on_lost is not None:
        on_lost(why)


def delete_run(client: redis.Redis, keys: RunKeys) -> int:
    """Delete every key of the run; returns how many there were."""
    doomed = list(client.scan_iter(match=keys.pattern, count=1000))
    for start in range(0, len(doomed), 500):
        client.delete(*doomed[start : start + 500])
    return len(doomed)


def forget_runs(url: str, timeout_s: float, prefix: str, run_ids: list[int]) -> None:
    """Delete the keys of runs whose runner died (closed as abandoned by the next crawl): nothing else
    would, and nothing reads them."""
    client = connect(url, timeout_s)
    try:
        for run_id in run_ids:
            client.srem(open_runs_key(prefix), run_id)
            delete_run(client, RunKeys(prefix, run_id))
    except redis.RedisError as exc:
        logger.warning("frontier keys of abandoned runs %s not deleted (%s)", run_ids, exc)
    finally:
        client.close()
