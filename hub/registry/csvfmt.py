"""Registry files in CSV: one row per source, unit columns repeated; a unit without sources has one row."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hub.registry.errors import Problem
from hub.registry.rows import Located, SourceEntry, UnitEntry, parse_source, parse_unit

UNIT_COLUMNS = (
    "unit_slug",
    "unit_name",
    "parent_slug",
    "level",
    "type",
    "region",
    "website",
    "unit_auto_approve",
)
SOURCE_COLUMNS = (
    "source_name",
    "kind",
    "url",
    "category",
    "platform",
    "account",
    "selectors",
    "auto_approve",
)
COLUMNS = UNIT_COLUMNS + SOURCE_COLUMNS
REQUIRED_COLUMNS = ("unit_slug", "unit_name", "level")
# CSV column -> row field (the unit/source prefix only disambiguates within one flat row).
UNIT_FIELDS = {
    "unit_slug": "slug",
    "unit_name": "name",
    "parent_slug": "parent",
    "unit_auto_approve": "auto_approve",
}
SOURCE_FIELDS = {"source_name": "name"}


def _flag(value: bool | None) -> str:
    """An auto-approve setting as a cell: true, false, or empty (inherited)."""
    return "" if value is None else str(value).lower()


def _non_empty(row: dict[str, str], columns: tuple[str, ...], rename: dict[str, str]) -> dict[str, Any]:
    return {rename.get(c, c): row[c].strip() for c in columns if c in row and (row[c] or "").strip()}


def load_csv(text: str, file: str) -> tuple[list[UnitEntry], list[Problem]]:
    """Units and sources of a CSV registry with every problem found."""
    problems: list[Problem] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    for column in header:
        if column not in COLUMNS:
            problems.append(Problem(file, 1, f"unknown column {column!r}"))
    for column in REQUIRED_COLUMNS:
        if column not in header:
            problems.append(Problem(file, 1, f"missing column {column!r}"))
    if problems:
        return [], problems
    entries: dict[str, UnitEntry] = {}
    unit_data: dict[str, dict[str, Any]] = {}
    for row in reader:
        where = Located(file, reader.line_num, {key: reader.line_num for key in COLUMNS})
        if None in row:
            problems.append(where.problem("more values than columns"))
            continue
        data = _non_empty(row, UNIT_COLUMNS, UNIT_FIELDS)
        slug = data.get("slug", "")
        if slug in unit_data:
            if unit_data[slug] != data:
                problems.append(where.problem(f"unit {slug}: columns differ from its first row"))
        else:
            unit_data[slug] = data
            entries[slug] = UnitEntry(parse_unit(data, where, problems), where)
        source_data = _non_empty(row, SOURCE_COLUMNS, SOURCE_FIELDS)
        if not source_data:
            continue
        if "selectors" in source_data:
            try:
                source_data["selectors"] = json.loads(source_data["selectors"])
            except json.JSONDecodeError as error:
                problems.append(where.problem(f"selectors are not JSON: {error.msg}", "selectors"))
                continue
        source = parse_source(source_data, where, problems)
        if source is not None and slug in entries:
            entries[slug].sources.append(SourceEntry(source, where))
    return list(entries.values()), problems


def dump_csv(entries: list[UnitEntry]) -> str:
    """The units as a CSV registry, loadable by load_csv."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        unit = entry.row
        unit_cells = {
            "unit_slug": unit.slug,
            "unit_name": unit.name,
            "parent_slug": unit.parent or "",
            "level": unit.level,
            "type": unit.type,
            "region": unit.region or "",
            "website": unit.website or "",
            "unit_auto_approve": _flag(unit.auto_approve),
        }
        if not entry.sources:
            writer.writerow(unit_cells)
        for source in entry.sources:
            row = source.row
            writer.writerow(
                unit_cells
                | {
                    "source_name": row.name,
                    "kind": row.kind,
                    "url": row.url,
                    "category": row.category or "",
                    "platform": row.platform or "",
                    "account": row.account or "",
                    "selectors": json.dumps(row.selectors, ensure_ascii=False) if row.selectors else "",
                    "auto_approve": _flag(row.auto_approve),
                }
            )
    return out.getvalue()
