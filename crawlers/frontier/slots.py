"""Slots of a frontier run for crawl processes of other machines (``crawl.frontier_remote_processes``).

The runner opens a run with ``remote`` slots counted into its ``processes``, so every process's share of a
host's budget is fixed before anyone joins: politeness never depends on how many joiners came. A joiner
takes a slot atomically (one Lua script: the run still open, a slot free) and, once its process has
written everything it owes the run, marks itself ``left``; the runner waits for every joined process to
leave before it closes the run, so an outcome a joiner writes is never taken for a missing one.
"""

from __future__ import annotations

import time

import redis

from crawlers.frontier.keys import RunKeys, open_runs_key

# KEYS: the run hash, the open-runs set; ARGV: the run id. 1: a slot taken, 0: the run is gone or full.
_TAKE = """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 0 end
local remote = tonumber(redis.call('HGET', KEYS[1], 'remote') or '0')
local joined = tonumber(redis.call('HGET', KEYS[1], 'joined') or '0')
if joined >= remote then return 0 end
redis.call('HINCRBY', KEYS[1], 'joined', 1)
return 1
"""

# KEYS: the run hash. A run already deleted is not re-created by the count.
_LEAVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'left', 1)
"""

WAIT_POLL_S = 0.1


def open_run_ids(client: redis.Redis, prefix: str) -> list[int]:
    """Ids of the runs open under ``prefix``, oldest first."""
    members: set[bytes] = client.smembers(open_runs_key(prefix))  # type: ignore[assignment]
    return sorted(int(member) for member in members)


def take_slot(client: redis.Redis, keys: RunKeys) -> bool:
    """Take one remote slot of the run; False when it has ended or every slot is taken."""
    script = client.register_script(_TAKE)
    return bool(script(keys=[keys.run, open_runs_key(keys.prefix)], args=[keys.run_id]))


def leave(client: redis.Redis, keys: RunKeys) -> None:
    """A joined process has written everything it owes the run (or died): the runner need not wait for it."""
    client.register_script(_LEAVE)(keys=[keys.run])


def wait_for_joiners(client: redis.Redis, keys: RunKeys, timeout_s: float) -> bool:
    """Wait until every process that joined the run has left it, at most ``timeout_s``; False if not."""
    deadline = time.monotonic() + timeout_s
    while True:
        joined, left = client.hmget(keys.run, ["joined", "left"])
        if int(left or 0) >= int(joined or 0):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(WAIT_POLL_S)
