"""Registry export: YAML, CSV and OPML exports import back to the same registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.db import Database
from hub.models import Source, Unit
from hub.registry import export_registry, import_registry
from tests.test_registry import NESTED


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def empty(database: Database) -> None:
    with database.session() as session:
        for source in session.scalars(select(Source)):
            session.delete(source)
        session.flush()
        units = list(session.scalars(select(Unit)))
        for unit in sorted(units, key=lambda u: -len(u.path)):  # children first
            session.delete(unit)
            session.flush()


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_export_imports_back_identically(database: Database, tmp_path: Path, fmt: str) -> None:
    with database.session() as session:
        import_registry(session, write(tmp_path, "registry.yaml", NESTED))
    with database.session() as session:
        exported = export_registry(session, fmt)
        yaml_before = export_registry(session, "yaml")
    # Re-importing the export into the same store changes nothing.
    with database.session() as session:
        summary = import_registry(session, write(tmp_path, f"again.{fmt}", exported))
    assert summary.units_created + summary.units_updated + summary.sources_created == 0
    assert summary.sources_updated == 0
    # Into an empty store it rebuilds the same registry.
    empty(database)
    with database.session() as session:
        import_registry(session, write(tmp_path, f"export.{fmt}", exported))
    with database.session() as session:
        assert export_registry(session, fmt) == exported
        assert export_registry(session, "yaml") == yaml_before


def test_yaml_export_is_nested(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        import_registry(session, write(tmp_path, "registry.yaml", NESTED))
        text = export_registry(session, "yaml")
    assert text.startswith("units:\n- slug: city\n")
    assert "  children:\n  - slug: d01\n" in text
    assert "某市人民政府" in text  # unicode kept readable


def test_opml_round_trip_keeps_units_and_feeds(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        import_registry(session, write(tmp_path, "registry.yaml", NESTED))
        opml = export_registry(session, "opml")
    assert 'xmlUrl="http://127.0.0.1:8700/sites/city/rss.xml"' in opml
    assert "list.html" not in opml  # html sources have no OPML form
    empty(database)
    with database.session() as session:
        import_registry(session, write(tmp_path, "export.opml", opml))
    with database.session() as session:
        assert export_registry(session, "opml") == opml
        units = {unit.slug: unit for unit in session.scalars(select(Unit))}
        assert set(units) == {"city", "d01", "d01-b02", "school"}
        assert units["d01-b02"].parent is not None and units["d01-b02"].parent.slug == "d01"
        assert units["city"].region_code == "330100" and units["city"].website is not None
        feed = session.scalars(select(Source)).one()
        assert (feed.kind, feed.category, feed.unit_id) == ("feed", "通知公告", units["city"].id)


def test_plain_reader_opml_gets_slugs_and_levels(database: Database, tmp_path: Path) -> None:
    text = """<?xml version="1.0"?>
<opml version="1.0"><head/><body>
  <outline title="市委">
    <outline text="区委">
      <outline text="区委 新闻" type="rss" xmlUrl="http://127.0.0.1/qu.xml"/>
    </outline>
  </outline>
</body></opml>
"""
    with database.session() as session:
        summary = import_registry(session, write(tmp_path, "reader.xml", text))
    assert (summary.units_created, summary.sources_created) == (2, 1)
    with database.session() as session:
        levels = {unit.name: unit.level for unit in session.scalars(select(Unit))}
    assert levels == {"市委": "city", "区委": "district"}
