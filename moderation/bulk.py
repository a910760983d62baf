"""Bulk decisions: approve or reject many items at once, each on its own (docs/architecture.md step 6).

Every item goes through ``service.transition`` in its own savepoint, so it gets its own permission
and scope check, claim check, version check and audit event, and one refusal does not undo the
others. Bulk approval is only for clean items: an item whose revision under review has any
screening hit is refused (``has_hits``) and must be approved on its own, after a look at its hits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Item, User
from hub.timeutil import utcnow
from moderation.errors import HasHits, InvalidTransition, ModerationError, NotFound
from moderation.outcome import ItemOutcome
from moderation.permissions import check_permission
from moderation.policy import hit_counts
from moderation.rules import ReviewRules
from moderation.service import transition

BULK_ACTIONS = frozenset({"approve", "reject"})


@dataclass(frozen=True, slots=True)
class BulkTarget:
    """One item of a bulk decision, optionally pinned to the version and content the reviewer saw."""

    item_id: int
    version: int | None = None
    content_hash: str | None = None


def _hits(session: Session, targets: Sequence[BulkTarget]) -> dict[int, int]:
    """Screening hits of each item's revision under review."""
    rows = session.execute(
        select(Item.id, Item.pending_revision, Item.revision_count).where(
            Item.id.in_({target.item_id for target in targets})
        )
    ).all()
    counts = hit_counts(session, [(item_id, pending or count) for item_id, pending, count in rows])
    return {item_id: counts.get((item_id, pending or count), 0) for item_id, pending, count in rows}


def bulk_decide(
    session: Session,
    targets: Sequence[BulkTarget],
    action: str,
    actor: User | str,
    reason: str | None = None,
    reason_code: str | None = None,
    rules: ReviewRules | None = None,
    now: datetime | None = None,
) -> list[ItemOutcome]:
    """Apply ``action`` (approve or reject) to each target; one outcome per distinct item, in order.

    Runs in the caller's transaction (the caller commits what succeeded).
    """
    if action not in BULK_ACTIONS:
        raise InvalidTransition(
            f"bulk {action!r} is not offered; bulk actions: {', '.join(sorted(BULK_ACTIONS))}"
        )
    rules = rules or ReviewRules()
    if len(targets) > rules.bulk_max:
        raise InvalidTransition(f"{len(targets)} items in one bulk {action}; at most {rules.bulk_max}")
    if reason_code:
        rules.reasons().resolve(action, reason_code, reason)  # an unknown code refuses the whole batch
    now = now or utcnow()
    hits = _hits(session, targets) if action == "approve" else {}
    outcomes: list[ItemOutcome] = []
    seen: set[int] = set()
    for target in targets:
        if target.item_id in seen:
            continue
        seen.add(target.item_id)
        try:
            found = session.get(Item, target.item_id)
            if found is None:
                raise NotFound(f"no item {target.item_id}")
            check_permission(session, actor, found)  # scope first: refusals name nothing outside it
            count = hits.get(target.item_id, 0)
            if count:
                raise HasHits(f"item {target.item_id} has {count} screening hits: approve it on its own")
            with session.begin_nested():
                item = transition(
                    session,
                    target.item_id,
                    action,
                    actor,
                    reason,
                    target.version,
                    now,
                    reason_code=reason_code,
                    expected_hash=target.content_hash,
                    rules=rules,
                )
            outcomes.append(ItemOutcome.done(item))
        except ModerationError as error:
            outcomes.append(ItemOutcome.refused(target.item_id, error))
    return outcomes
