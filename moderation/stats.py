"""Moderation statistics per reviewer and per unit, from the audit trail (docs/architecture.md step 6).

For each reviewer (event actor) and each unit (the item's unit): decisions by action, the median time
the decided revision waited in the queue (from the revision being seen to the decision; withdrawals
are not queue decisions and do not count there), and the reasons given (reason codes; free text
without a code counts as ``-``). Exported as rows for JSON and as CSV.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Literal

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from hub.models import Item, ItemRevision, ModerationEvent, Unit

DECISIONS = ("approve", "approve_first", "auto_approve", "reject", "needs_changes", "withdraw")
QUEUE_DECISIONS = frozenset({"approve", "approve_first", "auto_approve", "reject", "needs_changes"})
REASONED = frozenset({"reject", "needs_changes", "withdraw"})
Group = Literal["reviewer", "unit"]
CSV_COLUMNS = ("group", "key", "name", "decisions", *DECISIONS, "median_queue_s", "reasons")


@dataclass(slots=True)
class StatsRow:
    """Figures of one reviewer or one unit."""

    group: Group
    key: str  # the reviewer's name, or the unit's slug
    name: str  # the unit's name (the reviewer's name again for reviewers)
    by_action: Counter[str] = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def decisions(self) -> int:
        """Every decision counted for this row."""
        return sum(self.by_action.values())

    @property
    def median_queue_s(self) -> float | None:
        """Median seconds a decided revision waited (None without queue decisions)."""
        return round(median(self.waits), 1) if self.waits else None

    def as_dict(self) -> dict[str, object]:
        """Plain data for the JSON API."""
        return {
            "group": self.group,
            "key": self.key,
            "name": self.name,
            "decisions": self.decisions,
            "by_action": {action: self.by_action.get(action, 0) for action in DECISIONS},
            "median_queue_s": self.median_queue_s,
            "reasons": dict(self.reasons.most_common()),
        }


def moderation_stats(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    unit_subtree: int | None = None,
) -> list[StatsRow]:
    """Rows per reviewer, then per unit, for decisions in [since, until) within a unit subtree."""
    query = (
        select(
            ModerationEvent.actor,
            ModerationEvent.action,
            ModerationEvent.reason_code,
            ModerationEvent.created_at,
            ItemRevision.created_at,
            Unit.slug,
            Unit.name,
        )
        .join(Item, Item.id == ModerationEvent.item_id)
        .join(Unit, Unit.id == Item.unit_id)
        .outerjoin(
            ItemRevision,
            and_(
                ItemRevision.item_id == ModerationEvent.item_id,
                ItemRevision.number == ModerationEvent.revision_number,
            ),
        )
        .where(ModerationEvent.action.in_(DECISIONS))
    )
    if since is not None:
        query = query.where(ModerationEvent.created_at >= since)
    if until is not None:
        query = query.where(ModerationEvent.created_at < until)
    if unit_subtree is not None:
        root = session.get(Unit, unit_subtree)
        if root is None:
            return []
        query = query.where(Unit.path.startswith(root.path))
    reviewers: dict[str, StatsRow] = {}
    units: dict[str, StatsRow] = defaultdict(lambda: StatsRow("unit", "", ""))
    for actor, action, code, decided_at, seen_at, slug, unit_name in session.execute(query):
        reviewer = reviewers.setdefault(actor, StatsRow("reviewer", actor, actor))
        unit = units[slug]
        unit.key, unit.name = slug, unit_name
        for row in (reviewer, unit):
            row.by_action[action] += 1
            if action in QUEUE_DECISIONS and seen_at is not None:
                row.waits.append(max(0.0, (decided_at - seen_at).total_seconds()))
            if action in REASONED:
                row.reasons[code or "-"] += 1
    return sorted(reviewers.values(), key=lambda r: r.key) + sorted(units.values(), key=lambda r: r.key)


def stats_csv(rows: list[StatsRow]) -> str:
    """The rows as CSV (UTF-8 text, one line per reviewer or unit; reasons as ``code=n; code=n``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        median_s = row.median_queue_s
        writer.writerow(
            [
                row.group,
                row.key,
                row.name,
                row.decisions,
                *(row.by_action.get(action, 0) for action in DECISIONS),
                "" if median_s is None else median_s,
                "; ".join(f"{code}={count}" for code, count in row.reasons.most_common()),
            ]
        )
    return out.getvalue()
