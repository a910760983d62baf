"""The unit directory's rendered tree, kept for a short while (docs/architecture.md step 8).

Counting every unit's approved items and rendering ~1,600 nested list entries costs ~30 ms of CPU at
100,000 items, and the tree changes only when notices are published or withdrawn or units change. So
the route keeps the rendered tree per language and root path with a *marker* of what it was built from
(the index's public total, the number of units and the newest unit id) and builds it again when the
marker moves or the entry is older than ``ttl`` (which bounds what the marker cannot see: a unit
renamed, one notice published and another withdrawn in the same index drain). One per app
(``app.state.directory_cache``), shared by the request threads.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup

DIRECTORY_TTL = timedelta(seconds=60)
MAX_ENTRIES = 8  # languages × root paths: two in practice; the cap only bounds memory


@dataclass(frozen=True, slots=True)
class RenderedTree:
    """The directory's tree as HTML and the number of units in it."""

    html: Markup
    unit_total: int


@dataclass(frozen=True, slots=True)
class _Entry:
    marker: Hashable
    built_at: datetime
    tree: RenderedTree


class DirectoryCache:
    """Rendered trees by key (language, root path), each valid while its marker holds and ``ttl`` lasts."""

    def __init__(self, ttl: timedelta = DIRECTORY_TTL) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}

    def get(self, key: Hashable, marker: Hashable, now: datetime) -> RenderedTree | None:
        """The tree kept for ``key`` if it was built from ``marker`` less than ``ttl`` before ``now``."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry.marker != marker or not entry.built_at <= now < entry.built_at + self._ttl:
            return None
        return entry.tree

    def put(self, key: Hashable, marker: Hashable, now: datetime, tree: RenderedTree) -> None:
        """Keep ``tree`` for ``key``, built from ``marker`` at ``now``."""
        with self._lock:
            if key not in self._entries and len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = _Entry(marker, now, tree)
