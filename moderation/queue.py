"""The moderation queue: items waiting in a state, riskiest or oldest first (docs/architecture.md step 6)."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from hub.models import Item, Unit

QueueOrder = Literal["risk", "age"]


def _query(session: Session, state: str, unit_subtree: int | None) -> Select[Item]:
    query = select(Item).where(Item.state == state)
    if unit_subtree is not None:
        root = session.get(Unit, unit_subtree)
        if root is None:
            return query.where(Item.id.is_(None))  # unknown unit: an empty subtree
        # Unit.path lists the ancestors and the unit itself, so the subtree shares the root's path prefix.
        query = query.join(Unit, Unit.id == Item.unit_id).where(Unit.path.startswith(root.path))
    return query


def list_queue(
    session: Session,
    state: str = "pending",
    limit: int = 50,
    offset: int = 0,
    unit_subtree: int | None = None,
    order: QueueOrder = "age",
) -> list[Item]:
    """Items in ``state`` (optionally within a unit's subtree): oldest first (``order="age"``), or
    riskiest first with ties oldest first (``order="risk"``, the reviewers' queue)."""
    query = _query(session, state, unit_subtree)
    if order == "risk":
        query = query.order_by(Item.risk_score.desc())
    query = query.order_by(Item.first_seen_at, Item.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


def count_queue(session: Session, state: str = "pending", unit_subtree: int | None = None) -> int:
    """How many items wait in ``state`` (optionally within a unit's subtree)."""
    subquery = _query(session, state, unit_subtree).subquery()
    return int(session.scalar(select(func.count()).select_from(subquery)) or 0)
