"""The items of a feed, newest first: approved only, from the database or (search feeds) the index.

Everything and category feeds leave out a repost whose original is published (the original stands for
it, as on the home page); unit feeds keep a unit's own reposts. Search feeds ask the search backend
with the public default states and then load the items from the database, keeping only those still
approved there (the index may lag a withdrawal by one outbox drain).
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased, joinedload

from api import content
from api.feeds.spec import FeedSpec
from api.search import build_query
from hub.models import Item, ItemState, Source, Unit
from index.backend import SearchBackend


class UnknownFeed(LookupError):
    """The feed names a unit that does not exist."""


@dataclass(frozen=True, slots=True)
class FeedItems:
    """The items of one feed and the unit it is about (unit feeds only)."""

    spec: FeedSpec
    items: list[Item]
    unit: Unit | None = None


def _newest_first(query: Select[Item]) -> Select[Item]:
    return query.order_by(Item.published_at.desc().nulls_last(), Item.first_seen_at.desc(), Item.id.desc())


def _without_published_reposts(query: Select[Item]) -> Select[Item]:
    original = aliased(Item)
    published_original = (
        select(original.id)
        .where(original.id == Item.repost_of_id, original.state == ItemState.APPROVED.value)
        .exists()
    )
    return query.where(~published_original)


def unit_items(session: Session, unit: Unit, subtree: bool, limit: int) -> list[Item]:
    """Newest approved items of ``unit`` (and, with ``subtree``, of every unit below it)."""
    if subtree:
        return content.subtree_approved(session, unit, limit)
    query = (
        select(Item)
        .options(joinedload(Item.unit))
        .where(Item.unit_id == unit.id, Item.state == ItemState.APPROVED.value)
    )
    return list(session.scalars(_newest_first(query).limit(limit)))


def category_items(session: Session, category: str, limit: int) -> list[Item]:
    """Newest approved items of ``category`` (the item's own, else its source's, as the index has it)."""
    query = (
        select(Item)
        .join(Source, Source.id == Item.source_id)
        .options(joinedload(Item.unit))
        .where(
            Item.state == ItemState.APPROVED.value,
            func.coalesce(Item.category, Source.category) == category,
        )
    )
    return list(session.scalars(_newest_first(_without_published_reposts(query)).limit(limit)))


def approved_by_ids(session: Session, item_ids: list[int]) -> list[Item]:
    """The approved items among ``item_ids``, in the order given."""
    if not item_ids:
        return []
    found = {
        item.id: item
        for item in session.scalars(
            select(Item)
            .options(joinedload(Item.unit))
            .where(Item.id.in_(item_ids), Item.state == ItemState.APPROVED.value)
        )
    }
    return [found[item_id] for item_id in item_ids if item_id in found]


def search_items(
    session: Session, backend: SearchBackend, spec: FeedSpec, limit: int, zone: ZoneInfo
) -> list[Item]:
    """Newest approved items matching a search feed; raises SearchBackendError when the index fails."""
    if spec.search is None:
        return []
    query = build_query(session, spec.search, limit, zone)
    if query is None:  # an unknown unit: nothing matches
        return []
    query.sort, query.facets, query.offset, query.cursor = "date", False, 0, None
    return approved_by_ids(session, [hit.item_id for hit in backend.search(query).hits])


def feed_items(
    session: Session, backend: SearchBackend, spec: FeedSpec, limit: int, zone: ZoneInfo
) -> FeedItems:
    """The newest ``limit`` items of ``spec``; raises UnknownFeed for a unit that does not exist."""
    if spec.kind == "unit":
        unit = content.unit_by_slug(session, spec.unit)
        if unit is None:
            raise UnknownFeed(spec.unit)
        return FeedItems(spec, unit_items(session, unit, spec.subtree, limit), unit)
    if spec.kind == "category":
        return FeedItems(spec, category_items(session, spec.category, limit))
    if spec.kind == "search":
        return FeedItems(spec, search_items(session, backend, spec, limit, zone))
    return FeedItems(spec, content.latest_approved(session, limit))
