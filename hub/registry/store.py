"""Writing validated registry entries to the store and reading them back for export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.canonical import canonical_url
from hub.models import Source, Unit
from hub.registry.rows import Located, SourceEntry, SourceRow, UnitEntry, UnitRow


@dataclass(slots=True)
class ImportSummary:
    """What an import did: counts of created, updated and unchanged units and sources."""

    units_created: int = 0
    units_updated: int = 0
    units_unchanged: int = 0
    sources_created: int = 0
    sources_updated: int = 0
    sources_unchanged: int = 0

    def __str__(self) -> str:
        """What the CLI and the demo print: "imported units: 18 new, 0 changed, 0 unchanged; sources: ..." """
        units = (self.units_created, self.units_updated, self.units_unchanged)
        sources = (self.sources_created, self.sources_updated, self.sources_unchanged)
        counts = "{} new, {} changed, {} unchanged"
        return f"imported units: {counts.format(*units)}; sources: {counts.format(*sources)}"


def _assign(target: Any, values: dict[str, Any]) -> bool:
    """Set ``values`` on ``target``; True when anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed


def _unit_values(row: UnitRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "level": row.level,
        "unit_type": row.type,
        "region_code": row.region,
        "website": row.website,
        "auto_approve": row.auto_approve,
    }


def _source_values(row: SourceRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": row.kind,
        "url": row.url,
        "category": row.category,
        "platform": row.platform,
        "account_id": row.account,
        "selectors": dict(row.selectors),
        "auto_approve": row.auto_approve,
    }


def write_entries(session: Session, entries: list[UnitEntry]) -> ImportSummary:
    """Create or update units (by slug) and sources (by canonical URL); entries are already checked."""
    summary = ImportSummary()
    units = {unit.slug: unit for unit in session.scalars(select(Unit))}
    touched: set[str] = set()
    for entry in entries:
        unit = units.get(entry.row.slug)
        if unit is None:
            unit = Unit(slug=entry.row.slug, path="/", **_unit_values(entry.row))
            session.add(unit)
            units[unit.slug] = unit
            summary.units_created += 1
            touched.add(unit.slug)
        elif _assign(unit, _unit_values(entry.row)):
            touched.add(unit.slug)
            summary.units_updated += 1
    session.flush()  # ids for the new units
    for entry in entries:
        parent_id = units[entry.row.parent].id if entry.row.parent else None
        unit = units[entry.row.slug]
        if unit.parent_id != parent_id:
            unit.parent_id = parent_id
            if entry.row.slug not in touched:
                touched.add(entry.row.slug)
                summary.units_updated += 1
    summary.units_unchanged = len(entries) - summary.units_created - summary.units_updated
    session.flush()
    update_paths(session)
    _write_sources(session, entries, units, summary)
    session.flush()
    return summary


def _write_sources(
    session: Session, entries: list[UnitEntry], units: dict[str, Unit], summary: ImportSummary
) -> None:
    known = {canonical_url(source.url): source for source in session.scalars(select(Source))}
    for entry in entries:
        unit = units[entry.row.slug]
        for source_entry in entry.sources:
            values = _source_values(source_entry.row)
            source = known.get(canonical_url(source_entry.row.url))
            if source is None:
                source = Source(unit_id=unit.id, enabled=True, **values)
                session.add(source)
                known[canonical_url(source.url)] = source
                summary.sources_created += 1
            elif _assign(source, values):
                source.body_hash = None  # read with other selectors or options: its answer is parsed again
                summary.sources_updated += 1
            else:
                summary.sources_unchanged += 1


def update_paths(session: Session) -> None:
    """Recompute the materialized path ("/1/4/17/") of every unit from the parent links."""
    rows = session.execute(select(Unit.id, Unit.parent_id)).all()
    parent_of = {row.id: row.parent_id for row in rows}
    paths: dict[int, str] = {}

    def path_of(unit_id: int) -> str:
        chain: list[int] = []
        current: int | None = unit_id
        while current is not None and current not in paths:
            chain.append(current)
            current = parent_of.get(current)
        prefix = paths[current] if current is not None else "/"
        for node in reversed(chain):
            prefix = f"{prefix}{node}/"
            paths[node] = prefix
        return paths[unit_id]

    for unit in session.scalars(select(Unit)):
        wanted = path_of(unit.id)
        if unit.path != wanted:
            unit.path = wanted


def read_entries(session: Session) -> list[UnitEntry]:
    """Every unit with its sources, parents before children (depth-first, in id order)."""
    units = list(session.scalars(select(Unit).order_by(Unit.id)))
    slug_by_id = {unit.id: unit.slug for unit in units}
    children: dict[int | None, list[Unit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    sources: dict[int, list[Source]] = {}
    for source in session.scalars(select(Source).order_by(Source.id)):
        sources.setdefault(source.unit_id, []).append(source)
    nowhere = Located("<store>", 0)
    entries: list[UnitEntry] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        unit = stack.pop()
        row = UnitRow(
            slug=unit.slug,
            name=unit.name,
            level=unit.level,
            type=unit.unit_type,
            region=unit.region_code,
            website=unit.website,
            parent=slug_by_id.get(unit.parent_id) if unit.parent_id else None,
            auto_approve=unit.auto_approve,
        )
        entry = UnitEntry(row, nowhere)
        for source in sources.get(unit.id, []):
            source_row = SourceRow(
                name=source.name,
                kind=source.kind,
                url=source.url,
                category=source.category,
                platform=source.platform,
                account=source.account_id,
                selectors=source.selectors or {},
                auto_approve=source.auto_approve,
            )
            entry.sources.append(SourceEntry(source_row, nowhere))
        entries.append(entry)
        stack.extend(reversed(children.get(unit.id, [])))
    return entries
