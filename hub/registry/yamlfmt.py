"""Registry files in YAML: nested (children) or flat (parent: slug) units with their sources."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from hub.registry.errors import Problem
from hub.registry.rows import Located, SourceEntry, UnitEntry, parse_source, parse_unit


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records where every mapping and each of its keys start (node marks)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # id(mapping) -> (line of the mapping, line of each key); the document keeps the mappings alive.
        self.lines: dict[int, tuple[int, dict[str, int]]] = {}

    def construct_line_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
        """Like SafeLoader's map constructor, remembering the marks of the mapping it yields."""
        data: dict[Any, Any] = {}
        keys = {str(key_node.value): key_node.start_mark.line + 1 for key_node, _value in node.value}
        self.lines[id(data)] = (node.start_mark.line + 1, keys)
        yield data
        data.update(self.construct_mapping(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_line_map)


def _located(file: str, data: dict[str, Any], lines: dict[int, tuple[int, dict[str, int]]]) -> Located:
    line, keys = lines.get(id(data), (1, {}))
    return Located(file, line, dict(keys))


def load_yaml(text: str, file: str) -> tuple[list[UnitEntry], list[Problem]]:
    """Units and sources of a YAML registry, flattened parents-first, with every problem found."""
    problems: list[Problem] = []
    loader = _LineLoader(text)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [], [Problem(file, line, f"not valid YAML: {getattr(error, 'problem', error)}")]
    finally:
        loader.dispose()
    if not isinstance(document, dict) or not isinstance(document.get("units"), list):
        return [], [Problem(file, 1, "expected a mapping with a 'units' list")]
    where = _located(file, document, loader.lines)
    for key in document:
        if key != "units":
            problems.append(where.problem(f"unknown top-level field {key!r}", key))
    entries: list[UnitEntry] = []
    _walk(document["units"], None, _Context(file, loader.lines, entries, problems), where.key_lines["units"])
    return entries, problems


@dataclass(slots=True)
class _Context:
    """What the walk over nested units shares: file name, key lines, results."""

    file: str
    lines: dict[int, tuple[int, dict[str, int]]]
    entries: list[UnitEntry]
    problems: list[Problem]


def _walk(units: Any, parent: str | None, ctx: _Context, line: int) -> None:
    if not isinstance(units, list):
        ctx.problems.append(Problem(ctx.file, line, "expected a list of units"))
        return
    for data in units:
        if not isinstance(data, dict):
            ctx.problems.append(Problem(ctx.file, line, f"expected a unit mapping, got {data!r}"))
            continue
        where = _located(ctx.file, data, ctx.lines)
        clean = dict(data)
        children = clean.pop("children", None)
        sources = clean.pop("sources", None)
        if parent is not None:
            if clean.get("parent") not in (None, parent):
                message = f"unit {clean.get('slug')}: parent {clean['parent']!r} but nested in {parent!r}"
                ctx.problems.append(where.problem(message, "parent"))
            clean["parent"] = parent
        row = parse_unit(clean, where, ctx.problems)
        entry = UnitEntry(row, where)
        ctx.entries.append(entry)
        for source_data in _as_list(sources, where, "sources", ctx.problems):
            source_where = _located(ctx.file, source_data, ctx.lines)
            source = parse_source(source_data, source_where, ctx.problems)
            if source is not None:
                entry.sources.append(SourceEntry(source, source_where))
        if children is not None:
            _walk(children, str(clean.get("slug")), ctx, where.key_lines.get("children", where.line))


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
