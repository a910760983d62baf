"""Getting a search backend ready lazily, for a process that must not wait for it (docs/search.md).

The worker crawls and ingests whether or not Elasticsearch answers: index updates wait in the outbox.
It tries ``ensure_ready`` at start and, while that fails, again before a drain, no sooner than the
outbox's own back-off after the last failure (index/outbox.py ``BACKOFF_BASE_S``, doubled per failure up
to ``READY_RETRY_MAX_S``), so a cluster that is down costs one short attempt now and then, not one per tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from hub.timeutil import doubling_backoff, utcnow
from index.backend import SearchBackend, SearchBackendError
from index.outbox import BACKOFF_BASE_S

log = logging.getLogger(__name__)
# One short attempt a minute at most while the cluster is down: a recovery is noticed within a minute,
# not after the outbox rows' hour-long back-off (those rows failed; this only asks whether it is back).
READY_RETRY_MAX_S = 60.0


class LazyReady:
    """``ensure_ready`` until it has succeeded once, spaced by the outbox's back-off."""

    def __init__(self, backend: SearchBackend, clock: Callable[[], datetime] = utcnow) -> None:
        self.backend = backend
        self.clock = clock
        self.ready = False
        self.failures = 0
        self.last_error = ""
        self.retry_at: datetime | None = None

    def check(self) -> bool:
        """Whether the backend is ready, trying ``ensure_ready`` if it is not and its back-off is over."""
        if self.ready:
            return True
        now = self.clock()
        if self.retry_at is not None and now < self.retry_at:
            return False
        try:
            self.backend.ensure_ready()
        except SearchBackendError as exc:
            self.failures += 1
            self.last_error = str(exc)
            self.retry_at = now + doubling_backoff(self.failures, BACKOFF_BASE_S, READY_RETRY_MAX_S)
            log.warning(
                "search backend not ready (attempt %d, next at %s): %s; index updates wait in the outbox",
                self.failures,
                self.retry_at.isoformat(timespec="seconds"),
                exc,
            )
            return False
        if self.failures:
            log.info("search backend ready after %d failed attempts; draining the outbox", self.failures)
        self.ready = True
        return True
