"""Why a source or unit has its health status: a key and its values, worded in English here.

The sweep stores both the English sentence (``reason``: API, CLI, exports, alerts) and the key with its
values (``reason_data``), so the staff pages can word it in the reader's language (api/staff_i18n.py
``health_reason``). A key is never renamed: stored rows and events keep theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The keys and what each one's values are.
FAILED = "failed"  # runs: int, kind: str, http: int | None
NO_ITEMS_ANY_MORE = "no_items_any_more"
NEVER_READ_UNREACHABLE = "never_read_unreachable"  # kind: str
NOT_READ = "not_read"  # kind: str | None (of the failures so far)
DORMANT = "dormant"  # days: float, limit: float, registered: bool (no item at all since registration)
STALE = "stale"  # days, limit, registered as for DORMANT
SLOWING = "slowing"  # rate_4w: float, rate_12w: float
ACTIVE = "active"  # days: float, rate_12w: float
BEST_OF = "best_of"  # total: int, status: str, failing: int (a unit: its liveliest source's status)
NO_READABLE = "no_readable"  # total: int, failing: int
NO_SOURCES = "no_sources"
NONE_READ = "none_read"
# The schedule's pauses and resumptions in a source's timeline (hub/schedule/plan.py, crawlnow.py).
PAUSED = "paused"  # days: float, since: str (UTC, "YYYY-MM-DD HH:MM"), kind: str | None, http, message
RESUMED_AFTER_CRAWL = "resumed_after_crawl"  # status: str (the crawl's: ok or not_modified)
RESUMED_ON_REQUEST = "resumed_on_request"  # actor: str
# What each indicator of a unit's activity score is made of (hub/health/score.py, the breakdown's detail).
INDICATOR_RATE = "indicator_rate"  # rate: float (items/week over 12 weeks), expected: float
NO_ITEM_YET = "no_item_yet"
LAST_NEW_ITEM = "last_new_item"  # days: float, stale: float
SHARE = "share"  # part: int, whole: int, what: one of SHARES
NO_DATA = "no_data"  # what: one of SHARES
# The shares of the score, and how the English sentence names them.
SHARES = {
    "originals": "items are originals",
    "availability": "crawls and probes succeeded",
    "approvals": "decided items approved",
}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _failed(runs: int, kind: str, http: int | None) -> str:
    code = f", HTTP {http}" if http else ""
    return f"last {_plural(runs, 'crawl')} failed: {kind}{code}"


def _quiet(status: str) -> Callable[..., str]:
    def word(days: float, limit: float, registered: bool) -> str:
        what = "no item since registration" if registered else "no new item"
        return f"{what} for {days:.0f} days ({status} after {limit:g})"

    return word


def _failing_note(total: int, failing: int) -> str:
    return f"; {failing} of {total} sources failing" if failing else ""


def _paused(days: float, since: str, kind: str | None, http: int | None, message: str | None) -> str:
    what = (kind or "failed") + (f" (HTTP {http})" if http else "")
    detail = f": {message}" if message else ""
    return f"failing for {days:.1f} days since {since} UTC; last: {what}{detail}"


_ENGLISH: Mapping[str, Callable[..., str]] = {
    FAILED: _failed,
    NO_ITEMS_ANY_MORE: lambda: "the last crawl found no items where there used to be some",
    NEVER_READ_UNREACHABLE: lambda kind: f"never read; homepage unreachable: {kind}",
    NOT_READ: lambda kind: f"not read yet ({kind})" if kind else "not read yet",
    DORMANT: _quiet("dormant"),
    STALE: _quiet("stale"),
    SLOWING: lambda rate_4w, rate_12w: f"{rate_4w:.2f} items/week over 4 weeks, {rate_12w:.2f} over 12",
    ACTIVE: lambda days, rate_12w: (
        f"last new item {days:.0f} days ago, {rate_12w:.2f} items/week over 12 weeks"
    ),
    BEST_OF: lambda total, status, failing: (
        f"best of {_plural(total, 'source')}: {status}{_failing_note(total, failing)}"
    ),
    NO_READABLE: lambda total, failing: f"no readable source{_failing_note(total, failing)}",
    NO_SOURCES: lambda: "no sources",
    NONE_READ: lambda: "no source read yet",
    PAUSED: _paused,
    RESUMED_AFTER_CRAWL: lambda status: f"a crawl succeeded ({status})",
    RESUMED_ON_REQUEST: lambda actor: f"crawl now requested by {actor}",
    INDICATOR_RATE: lambda rate, expected: f"{rate:.2f} items/week over 12 weeks, {expected:g} expected",
    NO_ITEM_YET: lambda: "no item yet",
    LAST_NEW_ITEM: lambda days, stale: f"last new item {days:.1f} days ago, stale after {stale:g}",
    SHARE: lambda part, whole, what: f"{part} of {whole} {SHARES[what]}",
    NO_DATA: lambda what: f"no data ({SHARES[what]})",
}
KEYS = frozenset(_ENGLISH)


@dataclass(frozen=True, slots=True)
class Reason:
    """A reason: its key (one of ``KEYS``) and the values its wording needs (JSON-safe)."""

    key: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def english(self) -> str:
        """The sentence stored in ``reason`` and shown by the API, the CLI, exports and alerts."""
        return _ENGLISH[self.key](**self.args)

    def data(self) -> dict[str, Any]:
        """What ``reason_data`` holds."""
        return {"key": self.key, "args": dict(self.args)}
