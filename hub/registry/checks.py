"""Whole-file checks of a registry against itself and the store, before anything is written."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.canonical import canonical_url
from hub.models import Source, Unit
from hub.registry.errors import Problem
from hub.registry.rows import UnitEntry


def check_entries(session: Session, entries: list[UnitEntry]) -> list[Problem]:
    """Duplicate slugs and URLs, unknown parents, cycles, URLs owned by another unit in the store."""
    problems: list[Problem] = []
    first_by_slug: dict[str, UnitEntry] = {}
    for entry in entries:
        if not entry.row.slug:
            continue  # already reported as missing
        first = first_by_slug.setdefault(entry.row.slug, entry)
        if first is not entry:
            message = f"duplicate slug {entry.row.slug!r} (first at line {first.where.line})"
            problems.append(entry.where.problem(message, "slug"))
    db_parents = _db_parents(session)
    problems += _check_parents(entries, first_by_slug, db_parents)
    problems += _check_cycles(entries, db_parents)
    problems += _check_urls(session, entries)
    return problems


def _db_parents(session: Session) -> dict[str, str | None]:
    """Slug -> parent slug of every unit in the store."""
    rows = session.execute(select(Unit.id, Unit.slug, Unit.parent_id)).all()
    slug_by_id = {row.id: row.slug for row in rows}
    return {row.slug: slug_by_id.get(row.parent_id) if row.parent_id else None for row in rows}


def _check_parents(
    entries: list[UnitEntry], in_file: dict[str, UnitEntry], in_db: dict[str, str | None]
) -> list[Problem]:
    problems = []
    for entry in entries:
        parent = entry.row.parent
        if parent is not None and parent not in in_file and parent not in in_db:
            message = f"unit {entry.row.slug}: unknown parent {parent!r}"
            problems.append(entry.where.problem(message, "parent"))
    return problems


def _check_cycles(entries: list[UnitEntry], db_parents: dict[str, str | None]) -> list[Problem]:
    # The tree after the import: the store's parents, overridden by the file's.
    parents = dict(db_parents)
    parents.update({entry.row.slug: entry.row.parent for entry in entries})
    problems = []
    for entry in entries:
        seen: list[str] = [entry.row.slug]
        current = parents.get(entry.row.slug)
        while current is not None and current not in seen:
            seen.append(current)
            current = parents.get(current)
        if current == entry.row.slug:
            cycle = " -> ".join([*reversed(seen), entry.row.slug])
            message = f"unit {entry.row.slug}: cycle in the tree: {cycle}"
            problems.append(entry.where.problem(message, "parent"))
    return problems


def _check_urls(session: Session, entries: list[UnitEntry]) -> list[Problem]:
    problems = []
    owner_in_db = {
        canonical_url(row.url): row.slug
        for row in session.execute(select(Source.url, Unit.slug).join(Unit, Unit.id == Source.unit_id))
    }
    first_line: dict[str, int] = {}
    for entry in entries:
        for source in entry.sources:
            key = canonical_url(source.row.url)
            if key in first_line:
                message = f"duplicate source URL {source.row.url} (first at line {first_line[key]})"
                problems.append(source.where.problem(message, "url"))
                continue
            first_line[key] = source.where.line
            owner = owner_in_db.get(key)
            if owner is not None and owner != entry.row.slug:
                message = f"source URL {source.row.url} already belongs to unit {owner!r} in the store"
                problems.append(source.where.problem(message, "url"))
    return problems
