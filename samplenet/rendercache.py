"""Feeds of the sample network rendered once per content, as a real site serves a static file.

Rendering a site's feed (20 items, ~50 KB) and hashing it for its ETag on every conditional request
cost the sample server ~1.7 ms of CPU per 304: in the re-poll benchmark the stand-in server, sharing
the two cores, took more CPU than the crawler it measures. A feed is rendered again only when its
items change (SampleItem is frozen; an edit or a new item replaces objects in ``site.items``) or the
site's template, fault, encoding or the base URL differ.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from samplenet.model import SampleItem


def etag_of(body: bytes) -> str:
    """A strong validator of ``body``."""
    return '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:20] + '"'


@dataclass(frozen=True, slots=True)
class Rendered:
    """A body, its ETag, and the items it was rendered from (held, so their ids stay theirs)."""

    items: tuple[SampleItem, ...]
    body: bytes
    etag: str


class RenderCache:
    """Rendered bodies by key, valid while the same item objects are rendered."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, Rendered] = {}

    def get(self, key: Hashable, items: Sequence[SampleItem], render: Callable[[], bytes]) -> Rendered:
        """The body of ``key`` for ``items``: the stored one if they are the same objects, else rendered."""
        entry = self._entries.get(key)
        if (
            entry is not None
            and len(entry.items) == len(items)
            and all(kept is item for kept, item in zip(entry.items, items, strict=True))
        ):
            return entry
        body = render()
        entry = Rendered(tuple(items), body, etag_of(body))
        self._entries[key] = entry
        return entry
