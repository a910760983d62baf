"""Store queries of the units API: the filtered directory, counts under a unit, and a unit's approved
items paged by a keyset cursor (newest first, as the unit page lists them)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from api import content
from api.params import MAX_ROW_ID
from hub.models import Item, ItemState, Source, Unit
from hub.wholenumber import whole_number

APPROVED = ItemState.APPROVED.value


class BadCursor(ValueError):
    """A cursor this API did not make; the route answers 400 (as search does)."""


def find_unit(session: Session, key: str) -> Unit | None:
    """The unit with slug ``key``, else with id ``key`` (slugs win: they are what the portal's URLs use).
    A number past the id columns' range names no unit (and must not reach the store: it overflows)."""
    unit = content.unit_by_slug(session, key)
    unit_id = whole_number(key)
    if unit is None and unit_id is not None and 0 < unit_id <= MAX_ROW_ID:
        unit = session.get(Unit, unit_id)
    return unit


@dataclass(frozen=True, slots=True)
class UnitFilter:
    """The directory's filters; None leaves one out."""

    parent_id: int | None = None
    level: str | None = None
    unit_type: str | None = None
    region: str | None = None  # a prefix of the division code: a district's code matches its streets
    q: str | None = None  # in the name or slug, case-insensitive

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE terms of these filters."""
        terms: list[ColumnElement[bool]] = []
        if self.parent_id is not None:
            terms.append(Unit.parent_id == self.parent_id)
        if self.level is not None:
            terms.append(Unit.level == self.level)
        if self.unit_type is not None:
            terms.append(Unit.unit_type == self.unit_type)
        if self.region:
            terms.append(Unit.region_code.startswith(self.region, autoescape=True))
        if self.q:
            needle = self.q.lower()
            terms.append(
                or_(
                    func.lower(Unit.name).contains(needle, autoescape=True),
                    func.lower(Unit.slug).contains(needle, autoescape=True),
                )
            )
        return terms


def list_units(session: Session, wanted: UnitFilter, offset: int, limit: int) -> tuple[int, list[Unit]]:
    """(total matching, one page of them) in tree order."""
    terms = wanted.conditions()
    total = session.scalar(select(func.count(Unit.id)).where(*terms)) or 0
    rows = session.scalars(
        select(Unit).where(*terms).order_by(Unit.path, Unit.id).offset(offset).limit(limit)
    )
    return total, list(rows)


def _subtree_ids(unit: Unit) -> Any:
    """Ids of ``unit`` and every unit below it (by the materialized path, when it is maintained)."""
    if unit.path.endswith(f"/{unit.id}/"):
        return select(Unit.id).where(Unit.path.startswith(unit.path, autoescape=True))
    return select(Unit.id).where(Unit.id == unit.id)


def item_scope(unit: Unit, subtree: bool) -> ColumnElement[bool]:
    """Items of ``unit`` and, with ``subtree``, of every unit below it."""
    return Item.unit_id.in_(_subtree_ids(unit)) if subtree else Item.unit_id == unit.id


def approved_count(session: Session, scope: ColumnElement[bool]) -> int:
    """Approved items within ``scope``."""
    return session.scalar(select(func.count(Item.id)).where(scope, Item.state == APPROVED)) or 0


def units_below(session: Session, unit: Unit) -> int:
    """Units of the subtree, ``unit`` itself not counted."""
    counted = session.scalar(select(func.count()).select_from(_subtree_ids(unit).subquery())) or 1
    return counted - 1


def listed_sources(session: Session, unit: Unit, staff: bool) -> list[Source]:
    """The unit page's sources: enabled ones, and for staff the disabled ones too (same order)."""
    if not staff:
        return content.enabled_sources(session, unit)
    query = select(Source).where(Source.unit_id == unit.id).order_by(Source.kind, Source.name, Source.id)
    return list(session.scalars(query))


@dataclass(frozen=True, slots=True)
class ItemCursor:
    """Where a page of newest-first items ended: the sort key of its last item."""

    published_at: datetime | None
    first_seen_at: datetime
    item_id: int

    @classmethod
    def after(cls, item: Item) -> ItemCursor:
        """The cursor of the page ending with ``item``."""
        return cls(item.published_at, item.first_seen_at, item.id)

    def encode(self) -> str:
        """Opaque text for ?cursor= (URL-safe)."""
        published = self.published_at.isoformat() if self.published_at else None
        raw = json.dumps([published, self.first_seen_at.isoformat(), self.item_id])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> ItemCursor:
        """The cursor ``encode`` wrote; BadCursor for anything else."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            published, first_seen, item_id = json.loads(raw)
            cursor = cls(
                datetime.fromisoformat(published) if published is not None else None,
                datetime.fromisoformat(first_seen),
                int(item_id),
            )
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise BadCursor("unknown cursor: ask again without it") from exc
        if cursor.first_seen_at.tzinfo is None or (
            cursor.published_at and cursor.published_at.tzinfo is None
        ):
            raise BadCursor("unknown cursor: ask again without it")
        return cursor

    def later(self) -> ColumnElement[bool]:
        """Items after this one in newest-first order (publication date, undated last; then first seen;
        then id, all descending)."""
        same_published = or_(
            Item.first_seen_at < self.first_seen_at,
            and_(Item.first_seen_at == self.first_seen_at, Item.id < self.item_id),
        )
        if self.published_at is None:
            return and_(Item.published_at.is_(None), same_published)
        return or_(
            Item.published_at < self.published_at,
            and_(Item.published_at == self.published_at, same_published),
            Item.published_at.is_(None),
        )


def approved_page(
    session: Session,
    scope: ColumnElement[bool],
    limit: int,
    offset: int = 0,
    cursor: ItemCursor | None = None,
) -> tuple[list[Item], ItemCursor | None]:
    """One page of approved items in ``scope``, newest first, and the cursor of the next (None: last)."""
    query = select(Item).options(joinedload(Item.unit)).where(scope, Item.state == APPROVED)
    query = query.where(cursor.later()) if cursor is not None else query.offset(offset)
    order = (Item.published_at.desc().nulls_last(), Item.first_seen_at.desc(), Item.id.desc())
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ItemCursor.after(rows[-1]) if more and rows else None
