"""The indexed projection of an item (docs/architecture.md step 7).

Every item has a document, in every state (staff search all of them; the public only
``index.backend.PUBLIC_STATES``). Documents are built from plain rows, a batch at a time: one query
for the items, one for their units and the ancestors of those units (``region_path``), one for
their sources and one for the state of the originals they repost (``collapse_into``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from hub.models import Item, ItemState, Source, Unit
from index.backend import SearchDocument

# Values per IN (...): under SQLite's 32,766 bind parameters (3.32+) and PostgreSQL's 65,535.
CHUNK = 4000
_T = TypeVar("_T")

# The item columns a SearchDocument is built from; the body HTML is not read.
DOCUMENT_COLUMNS = (
    Item.id,
    Item.version,
    Item.title,
    Item.text,
    Item.summary,
    Item.url,
    Item.unit_id,
    Item.source_id,
    Item.category,
    Item.published_at,
    Item.first_seen_at,
    Item.attachments,
    Item.state,
    Item.repost_of_id,
)
_UNIT_COLUMNS = (Unit.id, Unit.name, Unit.slug, Unit.level, Unit.unit_type, Unit.region_code, Unit.path)
_SOURCE_COLUMNS = (Source.id, Source.name, Source.category)


def _chunks(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _ancestors(unit: Any) -> list[int]:
    """Unit ids from the root down to ``unit``; a path not (yet) maintained still names the unit."""
    ancestors = [int(part) for part in (unit.path or "").strip("/").split("/") if part]
    if not ancestors or ancestors[-1] != unit.id:
        ancestors.append(unit.id)
    return ancestors


def month_of(value: datetime, zone: tzinfo) -> str:
    """ "YYYY-MM" of ``value`` (aware, or naive UTC) in ``zone``: the month facet's value."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).strftime("%Y-%m")


def document_of(
    item: Any, unit: Any, source: Any, region_path: list[str], collapse_into: int | None, zone: tzinfo
) -> SearchDocument:
    """The SearchDocument of an item given as a model or a row of ``DOCUMENT_COLUMNS`` (``unit`` and
    ``source`` as models or rows), with what the caller looked up: the region codes of the unit's
    ancestors and the public original it collapses into."""
    sort_date = item.published_at or item.first_seen_at
    return SearchDocument(
        item_id=item.id,
        version=item.version,
        title=item.title,
        text=item.text,
        summary=item.summary,
        url=item.url,
        unit_id=unit.id,
        unit_name=unit.name,
        unit_slug=unit.slug,
        unit_level=unit.level,
        unit_type=unit.unit_type,
        unit_ancestors=_ancestors(unit),
        region_code=unit.region_code,
        source_id=source.id,
        source_name=source.name,
        category=item.category or source.category,
        published_at=item.published_at,
        first_seen_at=item.first_seen_at,
        has_attachments=bool(item.attachments),
        state=item.state,
        region_path=region_path,
        collapse_into=collapse_into,
        month=month_of(sort_date, zone),
    )


def _rows(session: Session, columns: Sequence[Any], key: Any, ids: Iterable[int]) -> list[Row[Any]]:
    wanted = sorted(set(ids))
    rows: list[Row[Any]] = []
    for chunk in _chunks(wanted):
        rows.extend(session.execute(select(*columns).where(key.in_(chunk))))
    return rows


def _units(session: Session, unit_ids: Iterable[int]) -> dict[int, Row[Any]]:
    """The units named and all their ancestors (for region paths), by id: at most two queries."""
    units = {row.id: row for row in _rows(session, _UNIT_COLUMNS, Unit.id, unit_ids)}
    missing = {a for row in list(units.values()) for a in _ancestors(row)} - units.keys()
    if missing:
        units.update((row.id, row) for row in _rows(session, _UNIT_COLUMNS, Unit.id, missing))
    return units


def documents_for(session: Session, item_ids: Iterable[int], zone: str) -> dict[int, SearchDocument]:
    """Documents of the items among ``item_ids`` that exist (any state), by item id."""
    items = _rows(session, DOCUMENT_COLUMNS, Item.id, item_ids)
    if not items:
        return {}
    units = _units(session, {row.unit_id for row in items})
    sources = {
        row.id: row for row in _rows(session, _SOURCE_COLUMNS, Source.id, {r.source_id for r in items})
    }
    originals = {row.repost_of_id for row in items if row.repost_of_id is not None}
    approved = {
        row.id
        for row in _rows(session, (Item.id, Item.state), Item.id, originals)
        if row.state == ItemState.APPROVED.value
    }
    region_paths: dict[int, list[str]] = {}
    documents: dict[int, SearchDocument] = {}
    tz = ZoneInfo(zone)
    for row in items:
        unit = units[row.unit_id]
        if unit.id not in region_paths:
            chain = (units.get(ancestor) for ancestor in _ancestors(unit))
            region_paths[unit.id] = [u.region_code for u in chain if u is not None and u.region_code]
        collapse_into = row.repost_of_id if row.repost_of_id in approved else None
        documents[row.id] = document_of(
            row, unit, sources[row.source_id], list(region_paths[unit.id]), collapse_into, tz
        )
    return documents


def build_document(session: Session, item: Item, zone: str) -> SearchDocument:
    """The SearchDocument of a stored ``item`` as the index holds it (flushes pending changes)."""
    session.flush()
    return documents_for(session, [item.id], zone)[item.id]
