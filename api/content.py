"""What the public may read from the store: approved items and the unit tree (never pending items)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, joinedload

from hub.models import Item, ItemState, Unit

MAX_TREE_DEPTH = 12  # city → ... → branch is 5 levels; the cap only guards against a corrupt parent loop


def latest_approved(session: Session, limit: int) -> list[Item]:
    """Newest approved items, newest first (by publication date, then first seen).

    A repost whose original is published is left out: the original stands for it, so a city notice
    reposted by thirty branches shows once (its page lists the reposts).
    """
    original = aliased(Item)
    published_original = (
        select(original.id)
        .where(original.id == Item.repost_of_id, original.state == ItemState.APPROVED.value)
        .exists()
    )
    query = (
        select(Item)
        .options(joinedload(Item.unit))
        .where(Item.state == ItemState.APPROVED.value, ~published_original)
        .order_by(Item.published_at.desc().nulls_last(), Item.first_seen_at.desc(), Item.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def approved_item(session: Session, item_id: int) -> Item | None:
    """The item if it is approved, else None (pending, rejected and withdrawn look like missing)."""
    item = session.get(Item, item_id, options=[joinedload(Item.unit), joinedload(Item.source)])
    if item is None or item.state != ItemState.APPROVED.value:
        return None
    return item


def repost_original(session: Session, item: Item) -> Item | None:
    """The published original this item reposts, if any (a pending or withdrawn one is not shown)."""
    if item.repost_of_id is None:
        return None
    return approved_item(session, item.repost_of_id)


def published_reposts(session: Session, item: Item, limit: int = 50) -> list[Item]:
    """Published reposts of ``item`` by other units, oldest first."""
    query = (
        select(Item)
        .options(joinedload(Item.unit))
        .where(Item.repost_of_id == item.id, Item.state == ItemState.APPROVED.value)
        .order_by(Item.first_seen_at, Item.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def any_item(session: Session, item_id: int) -> Item | None:
    """The item in whatever state (staff only)."""
    return session.get(Item, item_id, options=[joinedload(Item.unit), joinedload(Item.source)])


def unit_chain(unit: Unit) -> list[Unit]:
    """The unit and its ancestors, root first, walked up through ``Unit.parent``."""
    chain = [unit]
    current = unit.parent
    while current is not None and len(chain) < MAX_TREE_DEPTH and current not in chain:
        chain.append(current)
        current = current.parent
    chain.reverse()
    return chain


def unit_by_slug(session: Session, slug: str) -> Unit | None:
    """The unit with this slug."""
    return session.scalar(select(Unit).where(Unit.slug == slug))


def children_of(session: Session, unit: Unit) -> list[Unit]:
    """Units directly below ``unit``, by name."""
    return list(session.scalars(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.name)))


def subtree_approved(session: Session, unit: Unit, limit: int) -> list[Item]:
    """Newest approved items of ``unit`` and every unit below it."""
    query = (
        select(Item)
        .join(Unit, Item.unit_id == Unit.id)
        .options(joinedload(Item.unit))
        .where(Item.state == ItemState.APPROVED.value)
        .order_by(Item.published_at.desc().nulls_last(), Item.first_seen_at.desc(), Item.id.desc())
        .limit(limit)
    )
    if unit.path.endswith(f"/{unit.id}/"):
        # The materialized path includes the unit itself: its subtree shares the prefix.
        query = query.where(Unit.path.startswith(unit.path, autoescape=True))
    else:  # path not maintained (yet): the unit alone
        query = query.where(Item.unit_id == unit.id)
    return list(session.scalars(query))


def unit_slugs(session: Session, unit_ids: list[str]) -> dict[str, str]:
    """Slugs of units given as facet values (unit ids as strings): facet links filter by slug."""
    ids = [int(value) for value in unit_ids if value.isdigit()]
    if not ids:
        return {}
    return {
        str(unit_id): slug
        for unit_id, slug in session.execute(select(Unit.id, Unit.slug).where(Unit.id.in_(ids)))
    }
