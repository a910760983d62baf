"""Weighted failures (docs/architecture.md step 3): how much one failed crawl counts against a source.

Classes, from the crawl outcome's error kind (``hub/crawlrecord.py``) and HTTP status:
- hard — the source will not work until someone acts: DNS failure, 404/410 (and 401/403/451) on the
  source URL, TLS errors, a blocked private address, robots.txt disallowing us;
- soft — it answers but we cannot use what it says: parse errors, a feed without entries, a page too
  large, redirect loops, anything unclassified;
- temporary — likely to pass: timeouts, 5xx, 429, 408, refused or dropped connections;
- none — not the source's fault: a crawl we aborted ourselves.
Each class has a weight (``schedule.failure_weights``); the weights add up to the source's failure
score, which backs its interval off exponentially (``interval.backoff_s``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class FailureClass(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"
    TEMPORARY = "temporary"
    NONE = "none"


HARD_KINDS = frozenset({"dns", "tls", "blocked_private", "robots"})
TEMPORARY_KINDS = frozenset({"timeout", "http_5xx", "rate_limited", "refused", "connection"})
NONE_KINDS = frozenset({"aborted"})
HARD_HTTP = frozenset({401, 403, 404, 410, 451})
TEMPORARY_HTTP = frozenset({408, 429})
EMPTY_KINDS = frozenset({"feed", "account"})  # source kinds whose every good answer lists entries


def failure_class(error_kind: str | None, http_status: int | None) -> FailureClass:
    """The class of a failed outcome."""
    if error_kind in HARD_KINDS:
        return FailureClass.HARD
    if error_kind in TEMPORARY_KINDS:
        return FailureClass.TEMPORARY
    if error_kind in NONE_KINDS:
        return FailureClass.NONE
    if error_kind == "http_4xx":
        if http_status in HARD_HTTP:
            return FailureClass.HARD
        if http_status in TEMPORARY_HTTP:
            return FailureClass.TEMPORARY
    return FailureClass.SOFT


def is_empty(status: str, source_kind: str, items_seen: int) -> bool:
    """A feed that answered with no entries at all (a soft failure, though the fetch succeeded).

    Only feeds: a list page or sitemap with nothing new legitimately yields no items.
    """
    return status == "ok" and source_kind in EMPTY_KINDS and items_seen == 0


def weight(failure: FailureClass, weights: Mapping[str, float]) -> float:
    """The score one failure of this class adds."""
    if failure is FailureClass.NONE:
        return 0.0
    return float(weights.get(failure.value, 0.0))
