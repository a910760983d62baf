"""The indexed projection of an item (docs/architecture.md step 7)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from hub.models import Item, Source, Unit
from index.backend import SearchDocument


def build_document(item: Item) -> SearchDocument:
    """The SearchDocument of ``item`` (uses ``item.unit`` and ``item.source``)."""
    return document_of(item, item.unit, item.source)


def document_of(item: Item | Row[Any], unit: Unit, source: Source) -> SearchDocument:
    """The SearchDocument of an item given as a model or as a row of its columns (the drainer reads rows)."""
    ancestors = unit.ancestor_ids
    if not ancestors or ancestors[-1] != unit.id:
        ancestors.append(unit.id)  # a path not (yet) maintained still finds the unit itself
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
        unit_ancestors=ancestors,
        region_code=unit.region_code,
        source_id=source.id,
        source_name=source.name,
        category=item.category or source.category,
        published_at=item.published_at,
        first_seen_at=item.first_seen_at,
        has_attachments=bool(item.attachments),
        state=item.state,
    )
