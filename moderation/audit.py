"""The audit trail: what each decision was about, and who answers for the live content (step 6).

Every ModerationEvent names the item, the revision and its content hash, from/to state, the action,
the actor, the reason (code and text), and the screening snapshot of that revision at decision time:
hit count, the item's risk score and the lexicon version of the hits. Events are only ever added.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Item, ItemRevision, ModerationEvent, ScreeningHit

APPROVALS = ("approve", "auto_approve")
FIRST_APPROVAL = "approve_first"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a decision was taken on: the revision's content hash and its screening."""

    content_hash: str | None
    hit_count: int
    risk_score: float
    lexicon_version: str | None


def snapshots(session: Session, revisions: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Snapshot]:
    """The snapshot of each (item id, revision number), in three queries whatever their number."""
    wanted = set(revisions)
    if not wanted:
        return {}
    item_ids = {item_id for item_id, _ in wanted}
    hashes = {
        (item_id, number): digest
        for item_id, number, digest in session.execute(
            select(ItemRevision.item_id, ItemRevision.number, ItemRevision.content_hash).where(
                ItemRevision.item_id.in_(item_ids)
            )
        )
    }
    hits = {
        (item_id, number): (count, version)
        for item_id, number, count, version in session.execute(
            select(
                ScreeningHit.item_id,
                ScreeningHit.revision_number,
                func.count(),
                func.max(ScreeningHit.lexicon_version),
            )
            .where(ScreeningHit.item_id.in_(item_ids))
            .group_by(ScreeningHit.item_id, ScreeningHit.revision_number)
        )
    }
    risks = {
        item_id: risk
        for item_id, risk in session.execute(select(Item.id, Item.risk_score).where(Item.id.in_(item_ids)))
    }
    result: dict[tuple[int, int], Snapshot] = {}
    for key in wanted:
        count, version = hits.get(key, (0, None))
        result[key] = Snapshot(hashes.get(key), int(count), float(risks.get(key[0]) or 0.0), version)
    return result


def snapshot(session: Session, item_id: int, revision_number: int) -> Snapshot:
    """The snapshot of one revision."""
    return snapshots(session, [(item_id, revision_number)])[(item_id, revision_number)]


def event_values(found: Snapshot) -> dict[str, object]:
    """ModerationEvent columns of a snapshot (for callers that insert events in bulk)."""
    return {
        "content_hash": found.content_hash,
        "hit_count": found.hit_count,
        "risk_score": found.risk_score,
        "lexicon_version": found.lexicon_version,
    }


def history(session: Session, item_id: int) -> list[ModerationEvent]:
    """Every event of an item, oldest first."""
    query = select(ModerationEvent).where(ModerationEvent.item_id == item_id)
    return list(session.scalars(query.order_by(ModerationEvent.created_at, ModerationEvent.id)))


@dataclass(frozen=True, slots=True)
class Approvers:
    """Who answers for an item's live content: the final approver and, after a two-step review, the first."""

    final: str
    final_at: datetime
    first: str | None
    revision_number: int
    content_hash: str | None


def approvers(session: Session, item_id: int) -> Approvers | None:
    """The approval that put the live content online (None if the item was never approved)."""
    events = history(session, item_id)
    final = next((e for e in reversed(events) if e.action in APPROVALS), None)
    if final is None:
        return None
    first = next(
        (
            e
            for e in reversed(events[: events.index(final)])
            if e.action == FIRST_APPROVAL and e.revision_number == final.revision_number
        ),
        None,
    )
    return Approvers(
        final.actor,
        final.created_at,
        first.actor if first else None,
        final.revision_number,
        final.content_hash,
    )


def first_reviewer(session: Session, item: Item) -> str | None:
    """The 初审 reviewer of the live content, when a two-step review approved it (for the published page)."""
    found = approvers(session, item.id)
    if found is None or found.first is None or found.content_hash != item.content_hash:
        return None
    return found.first
