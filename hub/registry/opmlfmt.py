"""Registry files in OPML: unit outlines nested like the tree, feed outlines (xmlUrl) inside them.

Unit outlines carry the registry fields as attributes (slug, level, unitType, region, htmlUrl), feed
outlines their category, autoApprove and fullText (the full-text option, hub/fulltextmode.py);
a plain reader's OPML (folders of feeds) imports too: a missing slug is derived from the folder
name and a missing level from the depth.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lxml import etree

from hub.fulltextmode import FULL_TEXT_KEY
from hub.registry.errors import Problem
from hub.registry.rows import Located, SourceEntry, UnitEntry, parse_source, parse_unit

LEVELS_BY_DEPTH = ("city", "district", "street", "community", "branch")
UNIT_ATTRIBUTES = {
    "slug": "slug",
    "text": "name",
    "level": "level",
    "unitType": "type",
    "region": "region",
    "autoApprove": "auto_approve",  # true / false; left out: inherited (moderation/policy.py)
}


def _derived_slug(name: str) -> str:
    return "opml-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:10]  # a stable name, not a secret


def load_opml(data: bytes, file: str) -> tuple[list[UnitEntry], list[Problem]]:
    """Units and feed sources of an OPML registry with every problem found."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        return [], [Problem(file, error.lineno or 1, f"not valid XML: {error.msg}")]
    body = root.find("body")
    if root.tag != "opml" or body is None:
        return [], [Problem(file, root.sourceline or 1, "expected <opml> with a <body>")]
    entries: list[UnitEntry] = []
    problems: list[Problem] = []
    for outline in body.findall("outline"):
        if outline.get("xmlUrl"):
            problems.append(Problem(file, outline.sourceline or 1, "a feed outside any unit outline"))
            continue
        _unit(outline, None, 0, file, entries, problems)
    return entries, problems


def _unit(
    outline: Any, parent: str | None, depth: int, file: str, entries: list[UnitEntry], problems: list[Problem]
) -> None:
    line = outline.sourceline or 1
    where = Located(file, line)
    data: dict[str, Any] = {
        field: outline.get(attribute).strip()
        for attribute, field in UNIT_ATTRIBUTES.items()
        if (outline.get(attribute) or "").strip()
    }
    data.setdefault("name", (outline.get("title") or "").strip())
    data.setdefault("slug", _derived_slug(data["name"]))
    data.setdefault("level", LEVELS_BY_DEPTH[min(depth, len(LEVELS_BY_DEPTH) - 1)])
    if outline.get("htmlUrl"):
        data["website"] = outline.get("htmlUrl").strip()
    if parent is not None:
        data["parent"] = parent
    row = parse_unit(data, where, problems)
    entry = UnitEntry(row, where)
    entries.append(entry)  # before the children: parents first, as the other formats deliver them
    for child in outline.findall("outline"):
        if not child.get("xmlUrl"):
            _unit(child, data["slug"], depth + 1, file, entries, problems)
            continue
        source_where = Located(file, child.sourceline or 1)
        source_data = {
            "name": (child.get("text") or child.get("title") or "").strip(),
            "kind": "feed",
            "url": child.get("xmlUrl").strip(),
        }
        for attribute, field in (("category", "category"), ("autoApprove", "auto_approve")):
            if (child.get(attribute) or "").strip():
                source_data[field] = child.get(attribute).strip()
        if (child.get("fullText") or "").strip():
            source_data["selectors"] = {FULL_TEXT_KEY: child.get("fullText").strip()}
        source = parse_source(source_data, source_where, problems)
        if source is not None:
            entry.sources.append(SourceEntry(source, source_where))


def dump_opml(entries: list[UnitEntry], title: str = "Xinlian sources") -> str:
    """Units as nested outlines with their feed sources (other kinds have no OPML form)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    elements: dict[str, Any] = {}
    for entry in entries:
        unit = entry.row
        container = elements.get(unit.parent or "", body)
        attributes = {"text": unit.name, "slug": unit.slug, "level": unit.level, "unitType": unit.type}
        if unit.region:
            attributes["region"] = unit.region
        if unit.website:
            attributes["htmlUrl"] = unit.website
        if unit.auto_approve is not None:
            attributes["autoApprove"] = str(unit.auto_approve).lower()
        element = etree.SubElement(container, "outline", attributes)
        elements[unit.slug] = element
        for source in entry.sources:
            if source.row.kind != "feed":
                continue
            feed = {"text": source.row.name, "type": "rss", "xmlUrl": source.row.url}
            if source.row.category:
                feed["category"] = source.row.category
            if source.row.auto_approve is not None:
                feed["autoApprove"] = str(source.row.auto_approve).lower()
            if source.row.selectors.get(FULL_TEXT_KEY):
                feed["fullText"] = source.row.selectors[FULL_TEXT_KEY]
            etree.SubElement(element, "outline", feed)
    return etree.tostring(root, encoding="unicode", pretty_print=True)
