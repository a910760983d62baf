"""Bulk writes to Elasticsearch with per-item outcomes (docs/architecture.md step 7).

The client's ``helpers.streaming_bulk`` cuts the actions into chunks, retries items refused with 429
(and whole chunks answered 429) with a doubling back-off, and reports every item. What is left is
what the outbox needs: a stale version (409 under ``external_gte``) and an already deleted document
(404) are not failures; any other refusal (a 5xx item, or every item of a chunk still answered
502/503/504 after the client's retries) is kept per item id so that row, and only that row, is
retried later by the outbox, after its back-off (docs/search.md). If the cluster cannot be reached
before a single item was answered, the whole call fails with SearchBackendError; if it goes away
half-way, the items not answered are failures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch, TransportError, helpers

from index.backend import BulkResult, SearchBackendError

_IGNORED = {"index": 409, "delete": 404}  # stale version under external_gte; already gone


@dataclass(frozen=True, slots=True)
class BulkOptions:
    """How bulk requests are cut and retried."""

    chunk_size: int = 500
    max_retries: int = 3  # attempts after the first for items (or chunks) refused with 429
    initial_backoff: float = 1.0  # seconds before the first retry, doubled each time
    max_backoff: float = 30.0


def _reason(result: dict[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        error = f"{error.get('type')}: {error.get('reason')}"
    return f"{result.get('status')} {error}"


def bulk_write(
    client: Elasticsearch, actions: Iterable[dict[str, Any]], options: BulkOptions, strict: bool = False
) -> BulkResult:
    """Send ``actions`` (bulk action dicts with ``_id`` = item id) and report each item.

    ``strict`` (a rebuild, where a partial index is useless): raise SearchBackendError on the first
    failure instead of reporting it.
    """
    outstanding: Counter[int] = Counter()  # sent, not yet answered (an item may appear twice)
    source = iter(actions)

    def tracked() -> Iterator[dict[str, Any]]:
        for action in source:
            outstanding[int(action["_id"])] += 1
            yield action

    written = 0
    answered = 0
    failed: dict[int, str] = {}
    try:
        for ok, info in helpers.streaming_bulk(
            client,
            tracked(),
            chunk_size=options.chunk_size,
            max_retries=options.max_retries,
            initial_backoff=options.initial_backoff,
            max_backoff=options.max_backoff,
            raise_on_error=False,
            raise_on_exception=False,  # a chunk refused as a whole is reported item by item
        ):
            op, result = next(iter(info.items()))
            item_id = int(result["_id"])
            outstanding[item_id] -= 1
            answered += 1
            if ok:
                written += 1
            elif result.get("status") != _IGNORED.get(op):
                if strict:
                    raise SearchBackendError(f"elasticsearch bulk {op} {item_id}: {_reason(result)}")
                failed[item_id] = _reason(result)
    except TransportError as exc:
        if strict or answered == 0:
            raise SearchBackendError(f"elasticsearch bulk: {exc}") from exc
        reason = f"not written, cluster unreachable: {exc}"
        failed.update({item_id: reason for item_id, count in outstanding.items() if count > 0})
        failed.update({int(action["_id"]): reason for action in source})
    return BulkResult(written=written, failed=failed)
