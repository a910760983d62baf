"""Redis clients of the frontier: every call gives up after ``crawl.frontier_timeout_s``.

redis-py waits for ever on a socket by default, so a Redis that stops answering (a network cut, a host
frozen, not a refused connection) would hang the crawl process or the runner asking it. With a timeout
the call fails like a Redis that is gone: the process leaves the run (crawlers/frontier/ledger.py) and
the runner records the sources left as aborted. scrapy-redis's own client gets the same timeout
(crawlers/frontier/settings.py). No blocking commands are used, so no legitimate call waits that long.
"""

from __future__ import annotations

import redis


def connect(url: str, timeout_s: float) -> redis.Redis:
    """A client of the Redis at ``url`` whose connects and calls fail after ``timeout_s``."""
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
