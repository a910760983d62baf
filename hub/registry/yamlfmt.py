"""Registry files in YAML: nested (children) or flat (parent: slug) units with their sources."""

from __future__ import annotations

from typing import Any

import yaml

from hub.registry.errors import Problem
from hub.registry.rows import Located, SourceEntry, UnitEntry, parse_source, parse_unit

_LINE = "__line__"
_KEY_LINES = "__key_lines__"


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records, on every mapping, the line of the mapping and of each key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[_LINE] = node.start_mark.line + 1
        mapping[_KEY_LINES] = {
            str(key_node.value): key_node.start_mark.line + 1 for key_node, _value in node.value
        }
        return mapping


def _located(file: str, data: dict[str, Any]) -> tuple[Located, dict[str, Any]]:
    where = Located(file, int(data.get(_LINE, 1)), dict(data.get(_KEY_LINES, {})))
    clean = {key: value for key, value in data.items() if key not in (_LINE, _KEY_LINES)}
    return where, clean


def load_yaml(text: str, file: str) -> tuple[list[UnitEntry], list[Problem]]:
    """Units and sources of a YAML registry, flattened parents-first, with every problem found."""
    problems: list[Problem] = []
    try:
        document = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [], [Problem(file, line, f"not valid YAML: {getattr(error, 'problem', error)}")]
    if not isinstance(document, dict) or not isinstance(document.get("units"), list):
        return [], [Problem(file, 1, "expected a mapping with a 'units' list")]
    where, top = _located(file, document)
    for key in top:
        if key != "units":
            problems.append(where.problem(f"unknown top-level field {key!r}", key))
    entries: list[UnitEntry] = []
    _walk(top["units"], None, file, entries, problems, where.key_lines.get("units", 1))
    return entries, problems


def _walk(
    units: Any,
    parent: str | None,
    file: str,
    entries: list[UnitEntry],
    problems: list[Problem],
    line: int,
) -> None:
    if not isinstance(units, list):
        problems.append(Problem(file, line, "expected a list of units"))
        return
    for data in units:
        if not isinstance(data, dict):
            problems.append(Problem(file, line, f"expected a unit mapping, got {data!r}"))
            continue
        where, clean = _located(file, data)
        children = clean.pop("children", None)
        sources = clean.pop("sources", None)
        if parent is not None:
            if clean.get("parent") not in (None, parent):
                message = f"unit {clean.get('slug')}: parent {clean['parent']!r} but nested in {parent!r}"
                problems.append(where.problem(message, "parent"))
            clean["parent"] = parent
        row = parse_unit(clean, where, problems)
        entry = UnitEntry(row, where) if row is not None else None
        for source_data in _as_list(sources, where, "sources", problems):
            source_where, source_clean = _located(file, source_data)
            source = parse_source(source_clean, source_where, problems)
            if entry is not None and source is not None:
                entry.sources.append(SourceEntry(source, source_where))
        if entry is not None:
            entries.append(entry)
        if children is not None:
            children_line = where.key_lines.get("children", where.line)
            _walk(children, str(clean.get("slug")), file, entries, problems, children_line)


def _as_list(value: Any, where: Located, key: str, problems: list[Problem]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        problems.append(where.problem(f"{key} must be a list of mappings", key))
        return []
    return value


def dump_yaml(entries: list[UnitEntry]) -> str:
    """The units as a nested YAML registry (children under their parent), loadable by load_yaml."""
    by_parent: dict[str | None, list[UnitEntry]] = {}
    for entry in entries:
        by_parent.setdefault(entry.row.parent, []).append(entry)

    def node(entry: UnitEntry) -> dict[str, Any]:
        data = entry.row.model_dump(exclude={"parent"}, exclude_none=True)
        if entry.sources:
            data["sources"] = [source.row.as_dict() for source in entry.sources]
        children = by_parent.get(entry.row.slug, [])
        if children:
            data["children"] = [node(child) for child in children]
        return data

    known = {entry.row.slug for entry in entries}
    roots = [entry for entry in entries if entry.row.parent is None or entry.row.parent not in known]
    document = {"units": [node(root) for root in roots]}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120)
