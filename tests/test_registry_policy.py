"""The auto-approve policy is written in registry files and survives every export format."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.db import Database
from hub.models import Source, Unit
from hub.registry import export_registry, import_registry
from hub.registry.errors import RegistryError
from moderation.policy import policies_for_sources
from tests.test_registry_roundtrip import empty, write

REGISTRY = """\
units:
  - slug: city
    name: 某市
    level: city
    auto_approve: true
    sources:
      - name: 市通知
        kind: feed
        url: http://127.0.0.1:8700/sites/city/rss.xml
    children:
      - slug: d01
        name: 某区
        level: district
        auto_approve: false
        sources:
          - name: 区通知
            kind: feed
            url: http://127.0.0.1:8700/sites/d01/rss.xml
          - name: 区公告
            kind: feed
            url: http://127.0.0.1:8700/sites/d01/notice.xml
            auto_approve: true
        children:
          - slug: d01-b01
            name: 某社区
            level: branch
            sources:
              - name: 社区动态
                kind: feed
                url: http://127.0.0.1:8700/sites/b01/rss.xml
"""


def policies(database: Database) -> dict[str, str | None]:
    """Policy in force per source URL."""
    with database.session() as session:
        urls = {source.id: source.url for source in session.scalars(select(Source))}
        found = policies_for_sources(session, urls)
    return {urls[i].rsplit("/sites/", 1)[1]: (p.name.split("/")[0] if p else None) for i, p in found.items()}


EXPECTED = {
    "city/rss.xml": "unit",  # the city's own policy
    "d01/rss.xml": None,  # the district opts out
    "d01/notice.xml": "source",  # one of its sources opts back in
    "b01/rss.xml": None,  # the branch inherits its district's "off"
}


@pytest.mark.parametrize("fmt", ["yaml", "csv", "opml"])
def test_policy_round_trips_through_every_format(database: Database, tmp_path: Path, fmt: str) -> None:
    with database.session() as session:
        import_registry(session, write(tmp_path, "registry.yaml", REGISTRY))
    assert policies(database) == EXPECTED
    with database.session() as session:
        exported = export_registry(session, fmt)
        flags = {unit.slug: unit.auto_approve for unit in session.scalars(select(Unit))}
    assert flags == {"city": True, "d01": False, "d01-b01": None}
    empty(database)
    with database.session() as session:
        import_registry(session, write(tmp_path, f"export.{fmt}", exported))
    assert policies(database) == EXPECTED
    with database.session() as session:
        assert export_registry(session, fmt) == exported


def test_a_bad_policy_value_names_its_line(database: Database, tmp_path: Path) -> None:
    text = REGISTRY.replace("auto_approve: false", "auto_approve: sometimes")
    with database.session() as session, pytest.raises(RegistryError) as caught:
        import_registry(session, write(tmp_path, "registry.yaml", text))
    line = text.splitlines().index("        auto_approve: sometimes") + 1
    assert f"registry.yaml:{line}:" in str(caught.value)
