"""What the public may read: approved items and the unit tree (never pending items).

The store is the source of truth. Counts that would read thousands of wide item rows (activity per
unit, the month's most active units) come from the search index instead — a projection of the store
with every approved item's unit ancestors and date — through the ``indexed_*`` functions, which raise
SearchBackendError when the index cannot answer; callers fall back to the store queries beside them
or leave the figure out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased, joinedload

from hub.models import Item, ItemState, Source, Unit
from hub.wholenumber import whole_number
from index.backend import SearchBackend, SearchQuery

MAX_TREE_DEPTH = 12  # city → ... → branch is 5 levels; the cap only guards against a corrupt parent loop
APPROVED = ItemState.APPROVED.value
FEW_ROWS = 1_000  # items of a unit (± subtree) up to which its newest are read through the unit_id index


def _newest_first() -> tuple[ColumnElement[Any], ...]:
    return (Item.published_at.desc().nulls_last(), Item.first_seen_at.desc(), Item.id.desc())


def _dated_since(since: datetime) -> ColumnElement[bool]:
    """Published at or after ``since`` (an undated item by when it was first seen).

    Two ranges rather than coalesce(), so the store can answer from its (state, published_at) index.
    """
    return or_(Item.published_at >= since, and_(Item.published_at.is_(None), Item.first_seen_at >= since))


def _latest_statement(by_level: bool) -> Select[Item]:
    original = aliased(Item)
    published_original = (
        select(original.id).where(original.id == Item.repost_of_id, original.state == APPROVED).exists()
    )
    query = select(Item).options(joinedload(Item.unit)).where(Item.state == APPROVED, ~published_original)
    if by_level:
        levels = bindparam("levels", expanding=True, type_=String())
        query = query.join(Unit, Item.unit_id == Unit.id).where(Unit.level.in_(levels))
    return query.order_by(*_newest_first()).limit(bindparam("limit"))


# Built once, with parameters: SQLAlchemy derives a cache key for every new statement object, which for
# this one (an alias inside) costs more than running it (~1.5 ms, three times on the home page).
_LATEST = _latest_statement(by_level=False)
_LATEST_BY_LEVEL = _latest_statement(by_level=True)


def latest_approved(session: Session, limit: int, levels: Sequence[str] = ()) -> list[Item]:
    """Newest approved items, newest first (by publication date, then first seen), of units at
    ``levels`` (every level when empty).

    A repost whose original is published is left out: the original stands for it, so a city notice
    reposted by thirty branches shows once (its page lists the reposts).
    """
    if levels:
        return list(session.scalars(_LATEST_BY_LEVEL, {"levels": list(levels), "limit": limit}))
    return list(session.scalars(_LATEST, {"limit": limit}))


@dataclass(frozen=True, slots=True)
class UnitCount:
    """A unit and a number of its approved items."""

    unit: Unit
    count: int


def _unit_counts(session: Session, counts: list[tuple[int, int]]) -> list[UnitCount]:
    units = {
        unit.id: unit for unit in session.scalars(select(Unit).where(Unit.id.in_([c[0] for c in counts])))
    }
    return [UnitCount(units[unit_id], n) for unit_id, n in counts if unit_id in units]


def most_active_units(session: Session, since: datetime, limit: int) -> list[UnitCount]:
    """Units with the most approved items dated since ``since`` (their own items, reposts included:
    reposting is activity too), most first, ties by unit id (as the index's facets order them)."""
    count = func.count(Item.id).label("n")
    rows = session.execute(
        select(Item.unit_id, count)
        .where(Item.state == APPROVED, _dated_since(since))
        .group_by(Item.unit_id)
        .order_by(count.desc(), Item.unit_id)
        .limit(limit)
    ).all()
    return _unit_counts(session, [(unit_id, n) for unit_id, n in rows])


def indexed_most_active_units(
    session: Session, backend: SearchBackend, since: datetime, limit: int
) -> list[UnitCount]:
    """``most_active_units`` from the index's unit facet (it counts up to 20 units: ``limit`` <= 20)."""
    query = SearchQuery(date_from=since, facets=True, limit=0, collapse_reposts=False)
    buckets = backend.search(query).facets.get("unit", [])[:limit]
    counts = [(unit_id, b.count) for b in buckets if (unit_id := whole_number(b.value)) is not None]
    return _unit_counts(session, counts)


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


def subtree_approved(
    session: Session, unit: Unit, limit: int, subtree: bool = True, few_rows: int = FEW_ROWS
) -> list[Item]:
    """Newest approved items of ``unit`` and, with ``subtree``, of every unit below it (``few_rows``
    picks the store's path to them: the same items either way)."""
    if subtree and unit.path.endswith(f"/{unit.id}/"):
        # The materialized path includes the unit itself: its subtree shares the prefix.
        scope: ColumnElement[bool] = Item.unit_id.in_(
            select(Unit.id).where(Unit.path.startswith(unit.path, autoescape=True))
        )
    else:  # the unit alone (or its path is not maintained yet)
        scope = Item.unit_id == unit.id
    # Counted from the unit_id index alone, and only up to the bound.
    rows = select(Item.id).where(scope).limit(few_rows + 1).subquery()
    if (session.scalar(select(func.count()).select_from(rows)) or 0) <= few_rows:
        # Few rows: all of them through the unit_id index, sorted here. The state test is kept off the
        # (state, published_at) index, which the store would otherwise walk in date order through every
        # unit's items looking for these few (~100 ms at 100,000 items instead of ~1).
        state: ColumnElement[bool] = func.coalesce(Item.state, "") == APPROVED
    else:  # many: walking the date index meets the newest of them at once
        state = Item.state == APPROVED
    query = select(Item).options(joinedload(Item.unit)).where(scope, state)
    return list(session.scalars(query.order_by(*_newest_first()).limit(limit)))


@dataclass(frozen=True, slots=True)
class Activity:
    """How much a unit and the units below it published: approved items since a date, and the date of
    the newest one."""

    recent: int
    last_published_at: datetime | None


def indexed_activity(backend: SearchBackend, unit_ids: Sequence[int], since: datetime) -> dict[int, Activity]:
    """Activity of each unit of ``unit_ids`` together with every unit below it, from the index (one or
    two date-ordered queries of one hit per unit); units that never published are missing."""
    found: dict[int, Activity] = {}
    for unit_id in unit_ids:
        recent = backend.search(
            SearchQuery(unit_subtree=unit_id, date_from=since, sort="date", limit=1, collapse_reposts=False)
        )
        newest = recent
        if not recent.hits:  # nothing lately: when was the last time?
            newest = backend.search(
                SearchQuery(unit_subtree=unit_id, sort="date", limit=1, collapse_reposts=False)
            )
        if newest.hits:
            hit = newest.hits[0]
            found[unit_id] = Activity(recent.total, hit.published_at or hit.sort_date)
    return found


def enabled_sources(session: Session, unit: Unit) -> list[Source]:
    """The unit's sources that are crawled, by kind then name (what the unit page lists)."""
    query = (
        select(Source)
        .where(Source.unit_id == unit.id, Source.enabled.is_(True))
        .order_by(Source.kind, Source.name, Source.id)
    )
    return list(session.scalars(query))


@dataclass(frozen=True, slots=True)
class UnitRow:
    """What the directory shows of a unit: plain columns, not an ORM object. Loading every unit as
    ``Unit`` (identity map, instance state) was most of the directory's CPU once its counts came
    from an index (~1,600 units: ~50 of ~80 ms)."""

    id: int
    parent_id: int | None
    slug: str
    name: str


def all_units(session: Session) -> list[UnitRow]:
    """Every unit, by name (the directory builds the tree from ``parent_id``)."""
    rows = session.execute(select(Unit.id, Unit.parent_id, Unit.slug, Unit.name).order_by(Unit.name, Unit.id))
    return [UnitRow(unit_id, parent_id, slug, name) for unit_id, parent_id, slug, name in rows]


def approved_counts(session: Session) -> dict[int, int]:
    """Approved items per unit (its own), for every unit that has any."""
    # The state test is kept off the (state, published_at) index: the store would take it and read
    # every approved row for its unit (~1 s at 100,000 items). So the (unit_id, state, published_at)
    # index alone answers, already grouped (~35 ms).
    state = func.coalesce(Item.state, "") == APPROVED
    rows = session.execute(select(Item.unit_id, func.count()).where(state).group_by(Item.unit_id))
    return {unit_id: count for unit_id, count in rows}


def unit_marker(session: Session) -> tuple[int, int]:
    """Number of units and the newest unit id: moves when a unit is added or removed (from the
    parent_id index alone, ~0.1 ms), the directory cache's marker of the unit tree."""
    count, newest = session.execute(select(func.count(), func.max(Unit.id)).select_from(Unit)).one()
    return int(count), int(newest or 0)


def indexed_public_total(backend: SearchBackend) -> int:
    """Number of public notices in the index (~1 ms at 100,000): moves when one is published or
    withdrawn and the index has caught up, the directory cache's marker of the counts."""
    return backend.search(SearchQuery(limit=0, collapse_reposts=False)).total


def all_unit_slugs(session: Session) -> list[str]:
    """Slug of every unit, by id: the sitemap's unit pages."""
    return list(session.scalars(select(Unit.slug).order_by(Unit.id)))


def approved_item_total(session: Session) -> int:
    """Number of approved items (each has a public page)."""
    return session.scalar(select(func.count(Item.id)).where(Item.state == APPROVED)) or 0


def approved_item_refs(session: Session, offset: int, limit: int) -> list[tuple[int, datetime | None]]:
    """(id, publication date) of approved items in id order, ``limit`` from ``offset``.

    Both come from the (state, published_at) index alone: reading 50,000 item rows for another date
    costs the sitemap ~4x the time."""
    rows = session.execute(
        select(Item.id, Item.published_at)
        .where(Item.state == APPROVED)
        .order_by(Item.id)
        .offset(offset)
        .limit(limit)
    )
    return [(item_id, published) for item_id, published in rows]


def unit_slugs(session: Session, unit_ids: list[str]) -> dict[str, str]:
    """Slugs of units given as facet values (unit ids as strings): facet links filter by slug."""
    ids = [unit_id for value in unit_ids if (unit_id := whole_number(value)) is not None]
    if not ids:
        return {}
    return {
        str(unit_id): slug
        for unit_id, slug in session.execute(select(Unit.id, Unit.slug).where(Unit.id.in_(ids)))
    }


@dataclass(slots=True)
class TreeNode:
    """A unit in the directory: its own approved items, those of its whole subtree, its children."""

    unit: UnitRow
    own: int
    total: int = 0
    children: list[TreeNode] = field(default_factory=list)


def directory_tree(session: Session) -> list[TreeNode]:
    """Every unit as a tree (roots and children by name) with approved item counts."""
    counts = approved_counts(session)
    nodes = {unit.id: TreeNode(unit, counts.get(unit.id, 0)) for unit in all_units(session)}
    roots: list[TreeNode] = []
    for node in nodes.values():  # all_units is by name, so children lists come out by name
        parent = nodes.get(node.unit.parent_id) if node.unit.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)

    def total(node: TreeNode, depth: int) -> int:
        # Depth-capped like unit_chain: a corrupt parent loop must not recurse for ever.
        below = sum(total(child, depth + 1) for child in node.children) if depth < MAX_TREE_DEPTH else 0
        node.total = node.own + below
        return node.total

    for root in roots:
        total(root, 0)
    return roots
