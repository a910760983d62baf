"""Status rules (docs/health.md): a source's status from its signals, a unit's from its sources'.

Pure functions over ``SourceSignals`` and the [health] settings; the sweep stores what they say.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from hub.health import reasons
from hub.health.reasons import Reason
from hub.health.signals import SourceSignals
from hub.models import HealthStatus
from hub.settings import HealthSettings

ACTIVE, SLOWING, STALE, DORMANT = (
    HealthStatus.ACTIVE,
    HealthStatus.SLOWING,
    HealthStatus.STALE,
    HealthStatus.DORMANT,
)
BROKEN, UNREACHABLE, UNKNOWN = HealthStatus.BROKEN, HealthStatus.UNREACHABLE, HealthStatus.UNKNOWN
# Failure kinds (crawlers/errors.py) where no answer came back: the site is unreachable. Any other
# failure came with an answer we could not use (4xx/5xx, redirect loop, unparseable, refused by
# robots.txt, too large): the site is broken.
UNREACHABLE_KINDS = frozenset({"timeout", "dns", "refused", "connection", "tls", "blocked_private"})
# Statuses of a source that can be read, best first (the unit roll-up takes the best of them).
FRESHNESS = (ACTIVE, SLOWING, STALE, DORMANT)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A status and the reason shown beside it."""

    status: HealthStatus
    why: Reason

    @property
    def reason(self) -> str:
        """The reason in English (stored beside ``why``'s key and values)."""
        return self.why.english()


def for_unit(table: Mapping[str, float], level: str, unit_type: str, default: float) -> float:
    """The value of a per-unit table: "level/type", then type, then level, then "*", then ``default``."""
    for key in (f"{level}/{unit_type}", unit_type, level, "*"):
        if key in table:
            return table[key]
    return default


def classify_source(signals: SourceSignals, health: HealthSettings, now: datetime) -> Verdict:
    """The status of one source (rules in order: failures, extraction, never read, freshness)."""
    if signals.failing and signals.consecutive_failures >= health.failures_for_status:
        kind = signals.last_error_kind or "error"
        status = UNREACHABLE if kind in UNREACHABLE_KINDS else BROKEN
        runs, http = signals.consecutive_failures, signals.last_status_code or None
        return Verdict(status, Reason(reasons.FAILED, {"runs": runs, "kind": kind, "http": http}))
    if signals.extraction_failing:
        return Verdict(BROKEN, Reason(reasons.NO_ITEMS_ANY_MORE))
    if not signals.ever_read and signals.items_total == 0:
        probe = signals.probe
        if probe is not None and probe.reachable is False and probe.error_kind in UNREACHABLE_KINDS:
            return Verdict(UNREACHABLE, Reason(reasons.NEVER_READ_UNREACHABLE, {"kind": probe.error_kind}))
        waiting = signals.last_error_kind if signals.consecutive_failures else None
        return Verdict(UNKNOWN, Reason(reasons.NOT_READ, {"kind": waiting}))
    return _freshness(signals, health, now)


def _freshness(signals: SourceSignals, health: HealthSettings, now: datetime) -> Verdict:
    since = signals.last_new_item_at or signals.created_at
    days = max((now - since).total_seconds() / 86400, 0.0)
    shown = round(days, 2)  # in reason_data: kept short
    registered = signals.last_new_item_at is None
    dormant = for_unit(health.dormant_days, signals.level, signals.unit_type, 365.0)
    stale = for_unit(health.stale_days, signals.level, signals.unit_type, 30.0)
    if days > dormant:
        return Verdict(
            DORMANT, Reason(reasons.DORMANT, {"days": shown, "limit": dormant, "registered": registered})
        )
    if days > stale:
        return Verdict(
            STALE, Reason(reasons.STALE, {"days": shown, "limit": stale, "registered": registered})
        )
    rate_4w, rate_12w = signals.rate_4w, signals.rate_12w
    if rate_12w >= health.slowing_min_per_week and rate_4w < health.slowing_fraction * rate_12w:
        return Verdict(
            SLOWING, Reason(reasons.SLOWING, {"rate_4w": round(rate_4w, 4), "rate_12w": round(rate_12w, 4)})
        )
    return Verdict(ACTIVE, Reason(reasons.ACTIVE, {"days": shown, "rate_12w": round(rate_12w, 4)}))


def rollup_unit(statuses: Iterable[str]) -> Verdict:
    """A unit's status from its enabled sources' statuses.

    A unit is as lively as its liveliest readable source (one channel kept up means the unit publishes);
    it is broken or unreachable only when none of its sources can be read (broken if any of them
    answers), unknown when it has no source or none was read yet.
    """
    counts = Counter(statuses)
    if not counts:
        return Verdict(UNKNOWN, Reason(reasons.NO_SOURCES))
    total = sum(counts.values())
    failing = counts[BROKEN] + counts[UNREACHABLE]
    for status in FRESHNESS:
        if counts[status]:
            args = {"total": total, "status": status.value, "failing": failing}
            return Verdict(status, Reason(reasons.BEST_OF, args))
    for status in (BROKEN, UNREACHABLE):
        if counts[status]:
            return Verdict(status, Reason(reasons.NO_READABLE, {"total": total, "failing": failing}))
    return Verdict(UNKNOWN, Reason(reasons.NONE_READ))
