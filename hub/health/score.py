"""The activity score of a unit, 0-100, from weighted indicators (docs/health.md has the method).

Each indicator is a value in [0, 1] or None (no data: left out, the other weights scaled up):
frequency (items a week over 12 weeks against the level's expectation), timeliness (days since the
last new item against the level's stale threshold), originality (share of items that are not reposts),
availability (crawls and probes that succeeded) and moderation (approved among decided items).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hub.health import reasons
from hub.health.reasons import Reason
from hub.health.signals import SourceSignals
from hub.health.status import for_unit
from hub.models import Item, ItemState

INDICATORS = ("frequency", "timeliness", "originality", "availability", "moderation")
DECIDED = (ItemState.APPROVED, ItemState.REJECTED, ItemState.NEEDS_CHANGES, ItemState.WITHDRAWN)


@dataclass(slots=True)
class UnitActivity:
    """What the score of one unit is computed from."""

    level: str
    unit_type: str
    items_12w: int = 0
    last_new_item_at: datetime | None = None
    sources: int = 0
    successes: int = 0
    attempts: int = 0
    window_items: int = 0  # items dated in the score window
    window_originals: int = 0  # of them, not reposts
    approved: int = 0  # of them, approved (by a reviewer or the auto-approve policy)
    decided: int = 0  # of them, decided either way (approved, rejected, needs changes, withdrawn)


@dataclass(slots=True)
class Score:
    """A unit's score and its breakdown per indicator."""

    score: float | None
    breakdown: dict[str, dict[str, Any]] = field(default_factory=dict)


def unit_activity(
    session: Session,
    signals: Iterable[SourceSignals],
    units: Mapping[int, tuple[str, str]],
    now: datetime,
    window_days: int,
) -> dict[int, UnitActivity]:
    """Per unit of ``units`` (id -> (level, type)): its sources' signals summed, and its items' shares."""
    activity = {unit_id: UnitActivity(level, unit_type) for unit_id, (level, unit_type) in units.items()}
    for signal in signals:
        unit = activity.get(signal.unit_id)
        if unit is None:
            continue
        unit.sources += 1
        unit.items_12w += signal.items_12w
        unit.successes += signal.successes
        unit.attempts += signal.attempts
        if signal.last_new_item_at and (
            unit.last_new_item_at is None or signal.last_new_item_at > unit.last_new_item_at
        ):
            unit.last_new_item_at = signal.last_new_item_at
    dated = func.coalesce(Item.published_at, Item.first_seen_at)
    rows = session.execute(
        select(
            Item.unit_id,
            func.count(Item.id),
            func.sum(case((Item.repost_of_id.is_(None), 1), else_=0)),
            func.sum(case((Item.state == ItemState.APPROVED.value, 1), else_=0)),
            func.sum(case((Item.state.in_([state.value for state in DECIDED]), 1), else_=0)),
        )
        .where(dated >= now - timedelta(days=window_days))
        .group_by(Item.unit_id)
    )
    for unit_id, total, originals, approved, decided in rows:
        unit = activity.get(unit_id)
        if unit is not None:
            unit.window_items, unit.window_originals = int(total), int(originals or 0)
            unit.approved, unit.decided = int(approved or 0), int(decided or 0)
    return activity


def indicator_values(
    activity: UnitActivity, expected_per_week: float, stale_days: float, now: datetime
) -> dict[str, tuple[float | None, Reason]]:
    """Each indicator's value in [0, 1] (None: no data) and what it is made of (worded in English when
    stored, in the reader's language on the staff pages: hub/health/reasons.py)."""
    values: dict[str, tuple[float | None, Reason]] = {}
    if activity.sources:
        rate = activity.items_12w / 12
        values["frequency"] = (
            min(1.0, rate / expected_per_week) if expected_per_week > 0 else 1.0,
            Reason(reasons.INDICATOR_RATE, {"rate": round(rate, 2), "expected": expected_per_week}),
        )
        if activity.last_new_item_at is None:
            values["timeliness"] = (0.0, Reason(reasons.NO_ITEM_YET))
        else:
            days = max((now - activity.last_new_item_at).total_seconds() / 86400, 0.0)
            values["timeliness"] = (
                max(0.0, 1.0 - days / stale_days) if stale_days > 0 else 0.0,
                Reason(reasons.LAST_NEW_ITEM, {"days": round(days, 1), "stale": stale_days}),
            )
    else:
        values["frequency"] = (None, Reason(reasons.NO_SOURCES))
        values["timeliness"] = (None, Reason(reasons.NO_SOURCES))
    values["originality"] = _share(activity.window_originals, activity.window_items, "originals")
    values["availability"] = _share(activity.successes, activity.attempts, "availability")
    values["moderation"] = _share(activity.approved, activity.decided, "approvals")
    return values


def _share(part: int, whole: int, what: str) -> tuple[float | None, Reason]:
    if not whole:
        return None, Reason(reasons.NO_DATA, {"what": what})
    return part / whole, Reason(reasons.SHARE, {"part": part, "whole": whole, "what": what})


def compute_score(
    activity: UnitActivity,
    weights: Mapping[str, float],
    expected_per_week: Mapping[str, float],
    stale_days: Mapping[str, float],
    now: datetime,
) -> Score:
    """The unit's score: 100 x sum(weight x value) / sum(weight), over indicators that have data."""
    expected = for_unit(expected_per_week, activity.level, activity.unit_type, 1.0)
    stale = for_unit(stale_days, activity.level, activity.unit_type, 30.0)
    values = indicator_values(activity, expected, stale, now)
    used = {name: weights.get(name, 0.0) for name, (value, _) in values.items() if value is not None}
    total_weight = sum(weight for weight in used.values() if weight > 0)
    breakdown: dict[str, dict[str, Any]] = {}
    score = 0.0
    for name in INDICATORS:
        value, why = values[name]
        weight = weights.get(name, 0.0)
        points = None
        if value is not None and total_weight > 0 and weight > 0:
            points = round(100 * weight * value / total_weight, 1)
            score += 100 * weight * value / total_weight
        breakdown[name] = {
            "value": None if value is None else round(value, 3),
            "weight": weight,
            "points": points,
            "detail": why.english(),
            "detail_data": why.data(),
        }
    return Score(round(score, 1) if total_weight > 0 else None, breakdown)
