"""Registry import: nested and flat YAML, CSV, idempotent re-import, unit paths."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from hub.db import Database
from hub.models import Source, Unit
from hub.registry import import_registry

NESTED = """\
units:
  - slug: city
    name: 某市人民政府
    level: city
    type: government
    region: "330100"
    website: http://127.0.0.1:8700/sites/city/
    sources:
      - name: 某市人民政府 通知公告
        kind: feed
        url: http://127.0.0.1:8700/sites/city/rss.xml
        category: 通知公告
      - name: 某市发布 微博
        kind: account
        platform: weibo
        account: "1234567"
        url: http://127.0.0.1:8700/bridge/weibo/user/1234567?key=abc
    children:
      - slug: d01
        name: 某区
        level: district
        region: 330102
        sources:
          - name: 某区 新闻
            kind: html
            url: http://127.0.0.1:8700/sites/d01/list.html
            selectors: {item: "ul.news-list li", link: "a", date: "span.date"}
        children:
          - slug: d01-b02
            name: 某街道
            level: street
            type: community
  - slug: school
    name: 某中学
    level: branch
    type: school
"""

FLAT = """\
units:
  - slug: d01-b02
    name: 某街道
    level: street
    parent: d01
  - slug: d01
    name: 某区
    level: district
    parent: city
  - slug: city
    name: 某市人民政府
    level: city
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_nested_yaml_builds_the_tree_with_paths(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "registry.yaml", NESTED)
    with database.session() as session:
        summary = import_registry(session, path)
    assert (summary.units_created, summary.sources_created) == (4, 3)
    with database.session() as session:
        units = {unit.slug: unit for unit in session.scalars(select(Unit))}
        city, district, street = units["city"], units["d01"], units["d01-b02"]
        assert district.parent_id == city.id and street.parent_id == district.id
        assert street.path == f"/{city.id}/{district.id}/{street.id}/"
        assert street.ancestor_ids == [city.id, district.id, street.id]
        assert units["school"].path == f"/{units['school'].id}/"
        assert district.region_code == "330102"  # an unquoted number is still a code
        assert street.unit_type == "community"
        account = session.scalars(select(Source).where(Source.kind == "account")).one()
        assert (account.platform, account.account_id, account.unit_id) == ("weibo", "1234567", city.id)
        html = session.scalars(select(Source).where(Source.kind == "html")).one()
        assert html.selectors["item"] == "ul.news-list li"


def test_flat_yaml_with_parents_after_children(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        import_registry(session, write(tmp_path, "flat.yml", FLAT))
    with database.session() as session:
        units = {unit.slug: unit for unit in session.scalars(select(Unit))}
        assert units["d01-b02"].path == f"/{units['city'].id}/{units['d01'].id}/{units['d01-b02'].id}/"


def test_reimport_is_idempotent_and_updates(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "registry.yaml", NESTED)
    with database.session() as session:
        import_registry(session, path)
    with database.session() as session:
        summary = import_registry(session, path)
    assert (summary.units_created, summary.units_updated, summary.units_unchanged) == (0, 0, 4)
    assert (summary.sources_created, summary.sources_updated, summary.sources_unchanged) == (0, 0, 3)
    renamed = NESTED.replace("name: 某区 新闻", "name: 某区 要闻").replace("name: 某中学", "name: 某第一中学")
    with database.session() as session:
        summary = import_registry(session, write(tmp_path, "registry2.yaml", renamed))
    assert (summary.units_updated, summary.sources_updated) == (1, 1)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Unit)) == 4
        assert session.scalar(select(func.count()).select_from(Source)) == 3
        assert session.scalars(select(Source.name).where(Source.kind == "html")).one() == "某区 要闻"


def test_moving_a_unit_rewrites_the_paths_of_its_subtree(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        import_registry(session, write(tmp_path, "registry.yaml", NESTED))
    moved = "units:\n  - {slug: d01, name: 某区, level: district, parent: school}\n"
    with database.session() as session:
        import_registry(session, write(tmp_path, "move.yaml", moved))
    with database.session() as session:
        units = {unit.slug: unit for unit in session.scalars(select(Unit))}
        school, district, street = units["school"], units["d01"], units["d01-b02"]
        assert street.path == f"/{school.id}/{district.id}/{street.id}/"


def test_csv_import_groups_rows_by_unit(database: Database, tmp_path: Path) -> None:
    text = (
        "unit_slug,unit_name,parent_slug,level,type,region,website,source_name,kind,url,category,"
        "platform,account,selectors\n"
        "city,某市,,city,government,330100,http://127.0.0.1:8700/sites/city/,通知,feed,"
        "http://127.0.0.1:8700/sites/city/rss.xml,通知公告,,,\n"
        "city,某市,,city,government,330100,http://127.0.0.1:8700/sites/city/,新闻,html,"
        'http://127.0.0.1:8700/sites/city/list.html,,,,"{""item"": ""li"", ""link"": ""a""}"\n'
        "d01,某区,city,district,government,,,,,,,,,\n"
    )
    with database.session() as session:
        summary = import_registry(session, write(tmp_path, "units.csv", text))
    assert (summary.units_created, summary.sources_created) == (2, 2)
    with database.session() as session:
        html = session.scalars(select(Source).where(Source.kind == "html")).one()
        assert html.selectors == {"item": "li", "link": "a"}
        district = session.scalars(select(Unit).where(Unit.slug == "d01")).one()
        assert district.parent is not None and district.parent.slug == "city"
