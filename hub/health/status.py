"""Status rules (docs/health.md): a source's status from its signals, a unit's from its sources'.

Pure functions over ``SourceSignals`` and the [health] settings; the sweep stores what they say.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

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
    reason: str


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
        code = f", HTTP {signals.last_status_code}" if signals.last_status_code else ""
        runs = f"{signals.consecutive_failures} crawl{'s' if signals.consecutive_failures > 1 else ''}"
        status = UNREACHABLE if kind in UNREACHABLE_KINDS else BROKEN
        return Verdict(status, f"last {runs} failed: {kind}{code}")
    if signals.extraction_failing:
        return Verdict(BROKEN, "the last crawl found no items where there used to be some")
    if not signals.ever_read and signals.items_total == 0:
        probe = signals.probe
        if probe is not None and probe.reachable is False and probe.error_kind in UNREACHABLE_KINDS:
            return Verdict(UNREACHABLE, f"never read; homepage unreachable: {probe.error_kind}")
        waiting = f" ({signals.last_error_kind})" if signals.consecutive_failures else ""
        return Verdict(UNKNOWN, f"not read yet{waiting}")
    return _freshness(signals, health, now)


def _freshness(signals: SourceSignals, health: HealthSettings, now: datetime) -> Verdict:
    since = signals.last_new_item_at or signals.created_at
    days = max((now - since).total_seconds() / 86400, 0.0)
    what = "no new item" if signals.last_new_item_at else "no item since registration"
    dormant = for_unit(health.dormant_days, signals.level, signals.unit_type, 365.0)
    stale = for_unit(health.stale_days, signals.level, signals.unit_type, 30.0)
    if days > dormant:
        return Verdict(DORMANT, f"{what} for {days:.0f} days (dormant after {dormant:g})")
    if days > stale:
        return Verdict(STALE, f"{what} for {days:.0f} days (stale after {stale:g})")
    rate_4w, rate_12w = signals.rate_4w, signals.rate_12w
    if rate_12w >= health.slowing_min_per_week and rate_4w < health.slowing_fraction * rate_12w:
        return Verdict(SLOWING, f"{rate_4w:.2f} items/week over 4 weeks, {rate_12w:.2f} over 12")
    return Verdict(ACTIVE, f"last new item {days:.0f} days ago, {rate_12w:.2f} items/week over 12 weeks")


def rollup_unit(statuses: Iterable[str]) -> Verdict:
    """A unit's status from its enabled sources' statuses.

    A unit is as lively as its liveliest readable source (one channel kept up means the unit publishes);
    it is broken or unreachable only when none of its sources can be read (broken if any of them
    answers), unknown when it has no source or none was read yet.
    """
    counts = Counter(statuses)
    if not counts:
        return Verdict(UNKNOWN, "no sources")
    total = sum(counts.values())
    failing = counts[BROKEN] + counts[UNREACHABLE]
    note = f"; {failing} of {total} sources failing" if failing else ""
    for status in FRESHNESS:
        if counts[status]:
            return Verdict(status, f"best of {total} source{'s' if total > 1 else ''}: {status}{note}")
    if counts[BROKEN]:
        return Verdict(BROKEN, f"no readable source{note}")
    if counts[UNREACHABLE]:
        return Verdict(UNREACHABLE, f"no readable source{note}")
    return Verdict(UNKNOWN, "no source read yet")
