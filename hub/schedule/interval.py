"""A source's next check interval, as pure functions (docs/architecture.md step 3).

The order is fixed: the publication rate asks for an interval (``rate_interval_s``), clamped to the
unit level's bounds; failures back it off (``backoff_s``); what the source asked for — a feed's
``<ttl>``, Cache-Control ``max-age``, a Retry-After — is a floor (``floor_s``), so it may lengthen the
interval past the level's longest; finally the delay is jittered, never below that floor
(``jittered_s``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

WEEK_S = 7 * 24 * 3600.0
FALLBACK_LEVEL = "branch"  # a level the settings do not name is scheduled like a branch


def level_bounds(bounds: Mapping[str, tuple[int, int]], level: str) -> tuple[int, int]:
    """(shortest, longest) interval in seconds of ``level``."""
    return bounds.get(level) or bounds[FALLBACK_LEVEL]


def rate_interval_s(entries_per_week: float, checks_per_entry: float, shortest: int, longest: int) -> float:
    """The interval a publication rate asks for: the expected gap between entries / checks_per_entry,
    clamped to [shortest, longest]; a source that publishes nothing is checked every ``longest``."""
    if entries_per_week <= 0:
        return float(longest)
    wanted = WEEK_S / (entries_per_week * checks_per_entry)
    return min(max(wanted, float(shortest)), float(longest))


def backoff_s(interval_s: float, failure_score: float, cap_s: float) -> float:
    """``interval_s`` doubled per point of failure score, up to ``cap_s`` (or the interval itself, if
    that is longer: backing off never shortens)."""
    ceiling = max(cap_s, interval_s)
    if failure_score <= 0 or interval_s <= 0:
        return interval_s
    # Compared as exponents: 2 ** score overflows for a source that failed for years.
    if failure_score >= math.log2(ceiling / interval_s):
        return ceiling
    return interval_s * 2.0**failure_score


def floor_s(
    ttl_s: float | None,
    max_age_s: float | None,
    hint_max_s: float,
    retry_after_s: float | None,
    retry_after_max_s: float,
) -> float:
    """The shortest delay the source asked for: its feed ``<ttl>`` or Cache-Control max-age (each up
    to ``hint_max_s``) and a pending Retry-After (up to ``retry_after_max_s``)."""
    hint = min(max(ttl_s or 0.0, max_age_s or 0.0), hint_max_s)
    retry = min(max(retry_after_s or 0.0, 0.0), retry_after_max_s)
    return max(hint, retry, 0.0)


def jittered_s(delay_s: float, fraction: float, rng: random.Random, floor: float = 0.0) -> float:
    """``delay_s`` moved by a uniform share of itself in [-fraction, +fraction], never below ``floor``."""
    return max(delay_s * (1.0 + rng.uniform(-fraction, fraction)), floor)
