"""One source's state from the parts several crawl processes kept of it (frontier mode).

Each process that handled a request or item of the source keeps its own ``SourceState`` of what it saw
and publishes it before each of its ``end``s; the process whose ``end`` leaves nothing in flight joins
the parts here and writes the outcome. Every report a process makes of a source is followed by an
``end`` of that source in the same process, so its last published part holds everything it saw.
"""

from __future__ import annotations

import time

from crawlers.ledger import SourceJob, SourceState
from hub.fetchstats import MAX_REDIRECTS_KEPT, FetchStats

# (wall-clock start of the part, the part): monotonic clocks of two machines cannot be compared.
Part = tuple[float, SourceState]


def merge_parts(job: SourceJob, parts: list[Part]) -> SourceState:
    """The source's whole state: counts summed, lists joined, the source URL's answer from the part that
    fetched it, the first failure found (in part order: which process saw it first is not known)."""
    merged = SourceState(job)
    for _, part in parts:
        merged.items_seen += part.items_seen
        merged.items_new += part.items_new
        merged.items_updated += part.items_updated
        merged.items_failed += part.items_failed
        merged.items_unstored += part.items_unstored
        if part.http_status is not None:  # this process fetched the source's own URL
            merged.http_status = part.http_status
            merged.etag, merged.last_modified = part.etag, part.last_modified
            merged.max_age_s = part.max_age_s
        merged.not_modified = merged.not_modified or part.not_modified
        merged.body_hash = merged.body_hash or part.body_hash
        merged.ttl_s = merged.ttl_s if merged.ttl_s is not None else part.ttl_s
        merged.failure = merged.failure or part.failure
        merged.notes.extend(part.notes)
        merged.listed_urls |= part.listed_urls
        merged.gone_urls.extend(part.gone_urls)
        _add_fetch(merged.fetch, part.fetch)
    if parts:
        # Durations are measured on the wall clock from the earliest part's start.
        began = min(started for started, _ in parts)
        merged.started = time.monotonic() - max(0.0, time.time() - began)
    return merged


def _add_fetch(total: FetchStats, part: FetchStats) -> None:
    total.requests += part.requests
    total.bytes_received += part.bytes_received
    for key, count in part.status_counts.items():
        total.status_counts[key] = total.status_counts.get(key, 0) + count
    for key, count in part.failure_counts.items():
        total.failure_counts[key] = total.failure_counts.get(key, 0) + count
    total.redirects.extend(part.redirects[: MAX_REDIRECTS_KEPT - len(total.redirects)])
    total.items_unchanged += part.items_unchanged
    total.moved_to = total.moved_to or part.moved_to
    total.moved_after = part.moved_after
