"""Publication rate of a source, in new entries per week (docs/architecture.md step 3).

Kept on the source as an exponentially weighted moving average with time constant τ
(``schedule.rate_window_days``): each new entry adds WEEK/τ and the sum decays by e^(-Δt/τ), so a
steady λ entries/week reads λ and a source that stops publishing fades out over a few τ. Why not
count items' first_seen_at in a window: that scans every item of each crawled source at each tick,
and counts a new source's whole backlog as published at its first crawl. The state is two columns and
a counter (``entries_pending``: new items recorded by any crawl since the last fold), updated in
O(1) per crawl.

A source's first estimate comes from the published dates of the items its first crawl stored
(``seed_rate``): entries in the window over the time they span, so a feed listing its last 20
entries of 5 days reads ~27/week, and one whose entries are all older than the window reads 0.
"""

from __future__ import annotations

import math
from datetime import datetime

from hub.schedule.interval import WEEK_S

MIN_SEED_SPAN_S = 24 * 3600.0  # two entries an hour apart do not make a rate of 168 a week


def fold_rate(rate: float, rate_at: datetime, new_entries: int, now: datetime, window_s: float) -> float:
    """The rate at ``now``: the rate at ``rate_at`` decayed, plus ``new_entries`` seen since."""
    elapsed = max((now - rate_at).total_seconds(), 0.0)
    return rate * math.exp(-elapsed / window_s) + new_entries * WEEK_S / window_s


def seed_rate(
    in_window: int, oldest_in_window: datetime | None, older_exist: bool, now: datetime, window_s: float
) -> float:
    """A first rate from published dates: ``in_window`` entries published within ``window_s`` before
    ``now`` (the oldest at ``oldest_in_window``), ``older_exist`` if the source lists older ones.

    If older entries exist, the whole window was seen: rate = in_window / window. Otherwise the
    listing may be cut short (a feed of the last 20 entries): the in_window - 1 gaps between them
    over the time they span.
    """
    if in_window <= 0 or oldest_in_window is None:
        return 0.0
    if older_exist:
        return in_window * WEEK_S / window_s
    span = max((now - oldest_in_window).total_seconds(), MIN_SEED_SPAN_S)
    return (in_window - 1) * WEEK_S / span
