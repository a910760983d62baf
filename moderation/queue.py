"""The moderation queue: items waiting in a state, riskiest then oldest first (docs/architecture.md step 6).

An item waits since its revision under review was seen (the pending revision of an approved item,
else its newest one). Filters: unit subtree, item category, screening-hit category, risk range, age
(``older_than``; ``overdue`` flags items past the configured limit), review step of a two-step review,
and claims (free, held by me, held by others).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select

from hub.models import Item, ItemRevision, ScreeningHit, Unit
from hub.timeutil import utcnow

QueueOrder = Literal["risk", "age"]
ClaimFilter = Literal["free", "mine", "others"]
StepFilter = Literal["first", "final"]


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """Which items of the queue to list."""

    state: str = "pending"
    unit_subtree: int | None = None
    category: str | None = None  # the item's category
    hit_category: str | None = None  # a category of the screening hits of the revision under review
    min_risk: float | None = None
    max_risk: float | None = None
    older_than: timedelta | None = None
    step: StepFilter | None = None  # "final": first approval given, waiting for 终审
    claim: ClaimFilter | None = None
    claimant: str | None = None  # who "mine" / "others" refers to

    def as_dict(self) -> dict[str, Any]:
        """The fields, to build a changed copy."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """An item of the queue with what the reviewer needs to pick it."""

    item: Item
    queued_at: datetime
    hit_count: int
    revision_number: int  # the revision under review
    content_hash: str | None  # its content hash (pin a decision to it with ``expected_hash``)

    def age(self, now: datetime) -> timedelta:
        """How long the item has waited."""
        return now - self.queued_at


_Revision = aliased(ItemRevision)


def _under_review() -> Any:
    """The revision number a reviewer decides on."""
    return func.coalesce(Item.pending_revision, Item.revision_count)


def _queued_since() -> Any:
    """When the revision under review was seen (items stored without revisions: first seen)."""
    return func.coalesce(_Revision.created_at, Item.first_seen_at)


def queue_query(session: Session, wanted: QueueFilter, now: datetime | None = None) -> Select[Any]:
    """SELECT of the items matching ``wanted`` (with the revision under review joined), unordered."""
    now = now or utcnow()
    query = (
        select(Item)
        .outerjoin(_Revision, and_(_Revision.item_id == Item.id, _Revision.number == _under_review()))
        .where(Item.state == wanted.state)
    )
    if wanted.unit_subtree is not None:
        root = session.get(Unit, wanted.unit_subtree)
        if root is None:
            return query.where(Item.id.is_(None))  # unknown unit: an empty subtree
        # Unit.path lists the ancestors and the unit itself, so the subtree shares the root's path prefix.
        query = query.join(Unit, Unit.id == Item.unit_id).where(Unit.path.startswith(root.path))
    if wanted.category is not None:
        query = query.where(Item.category == wanted.category)
    if wanted.hit_category is not None:
        query = query.where(
            exists().where(
                ScreeningHit.item_id == Item.id,
                ScreeningHit.revision_number == _under_review(),
                ScreeningHit.category == wanted.hit_category,
            )
        )
    if wanted.min_risk is not None:
        query = query.where(Item.risk_score >= wanted.min_risk)
    if wanted.max_risk is not None:
        query = query.where(Item.risk_score <= wanted.max_risk)
    if wanted.older_than is not None:
        query = query.where(_queued_since() < now - wanted.older_than)
    if wanted.step == "final":
        query = query.where(Item.first_reviewed_revision == _under_review())
    elif wanted.step == "first":
        query = query.where(
            or_(Item.first_reviewed_revision.is_(None), Item.first_reviewed_revision != _under_review())
        )
    held = and_(Item.claimed_by.is_not(None), Item.claimed_until > now)
    if wanted.claim == "free":
        query = query.where(~held)
    elif wanted.claim == "mine":
        query = query.where(held, Item.claimed_by == wanted.claimant)
    elif wanted.claim == "others":
        query = query.where(held, Item.claimed_by != wanted.claimant)
    return query


def _ordered(query: Select[Any], order: QueueOrder) -> Select[Any]:
    if order == "risk":
        query = query.order_by(Item.risk_score.desc())
    return query.order_by(_queued_since(), Item.id)


def queue_entries(
    session: Session,
    wanted: QueueFilter,
    limit: int = 50,
    offset: int = 0,
    order: QueueOrder = "risk",
    now: datetime | None = None,
) -> list[QueueEntry]:
    """One page of the queue with each item's waiting time and hit count."""
    query = _ordered(queue_query(session, wanted, now), order).add_columns(
        _queued_since(), _Revision.content_hash
    )
    rows = session.execute(query.limit(limit).offset(offset)).all()
    numbers = {item.id: item.pending_revision or item.revision_count for item, _, _ in rows}
    counts = _hit_counts(session, list(numbers.items()))
    return [
        QueueEntry(
            item,
            queued_at,
            counts.get((item.id, numbers[item.id]), 0),
            numbers[item.id],
            digest or item.content_hash,
        )
        for item, queued_at, digest in rows
    ]


def _hit_counts(session: Session, revisions: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
    if not revisions:
        return {}
    query = (
        select(ScreeningHit.item_id, ScreeningHit.revision_number, func.count())
        .where(ScreeningHit.item_id.in_({item_id for item_id, _ in revisions}))
        .group_by(ScreeningHit.item_id, ScreeningHit.revision_number)
    )
    return {(item_id, number): count for item_id, number, count in session.execute(query)}


def list_queue(
    session: Session,
    state: str = "pending",
    limit: int = 50,
    offset: int = 0,
    unit_subtree: int | None = None,
    order: QueueOrder = "risk",
) -> list[Item]:
    """Items in ``state`` (optionally within a unit's subtree): riskiest first with ties oldest first
    (``order="risk"``, the reviewers' queue), or oldest first (``order="age"``)."""
    wanted = QueueFilter(state=state, unit_subtree=unit_subtree)
    return [entry.item for entry in queue_entries(session, wanted, limit, offset, order)]


def count_queue(
    session: Session,
    state: str = "pending",
    unit_subtree: int | None = None,
    wanted: QueueFilter | None = None,
    now: datetime | None = None,
) -> int:
    """How many items wait in ``state`` (optionally within a unit's subtree), or match ``wanted``."""
    wanted = wanted or QueueFilter(state=state, unit_subtree=unit_subtree)
    subquery = queue_query(session, wanted, now).with_only_columns(Item.id).subquery()
    return int(session.scalar(select(func.count()).select_from(subquery)) or 0)
