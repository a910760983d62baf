"""Keep the web process's start-up heap out of full garbage collections (docs/architecture.md step 8).

After start-up a worker holds ~190,000 tracked objects (settings, routes, models, templates, the
screening tables, the search backend) that live as long as it does. A full (generation 2) collection
walks all of them: 160-240 ms during which the worker answers nothing, three times per worker in 20 s
of search load (bench/http.py ``search.full_gc``) — about the slowest 1 % of requests. Frozen, they are
skipped and a full collection walks only what came later (~1 ms).
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move every tracked object out of the collector's reach (no collection first: in a process that
    made many apps, as the tests do, one costs ~0.2 s; start-up garbage waits for ``thaw_heap``)."""
    gc.freeze()


def thaw_heap() -> None:
    """Give the frozen objects back to the collector (an app shut down, as in tests, may be garbage)."""
    gc.unfreeze()
