"""Registry errors: every problem reported at once with file and line, and nothing half-imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import build_app
from hub.db import Database
from hub.models import Source, Unit
from hub.registry import RegistryError, import_registry

BAD_YAML = """\
units:
  - slug: city
    name: 某市
    level: city
    colour: red
    sources:
      - name: feed
        kind: feed
        url: http://127.0.0.1:8700/sites/city/rss.xml
      - name: bad url
        kind: feed
        url: ftp://127.0.0.1/feed.xml
      - name: no host
        kind: html
        url: http:///list.html
      - name: twice
        kind: feed
        url: HTTP://127.0.0.1:8700/sites/city/rss.xml#top
      - name: bad kind
        kind: podcast
        url: http://127.0.0.1:8700/sites/city/podcast.xml
  - slug: d01
    level: district
  - slug: d02
    name: 某区二
    level: planet
  - slug: city
    name: 又一个市
    level: city
  - slug: b01
    name: 某支部
    level: branch
    parent: nowhere
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_error(database: Database, path: Path) -> RegistryError:
    with pytest.raises(RegistryError) as caught, database.session() as session:
        import_registry(session, path)
    return caught.value


def count(database: Database, model: type[Unit] | type[Source]) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_every_problem_in_a_yaml_file_is_reported_with_its_line(database: Database, tmp_path: Path) -> None:
    error = import_error(database, write(tmp_path, "bad.yaml", BAD_YAML))
    assert all(problem.file == "bad.yaml" for problem in error.problems)

    def has(line: int, fragment: str) -> bool:
        return any(p.line == line and fragment in p.message for p in error.problems)

    assert has(5, "unknown field 'colour'")
    assert has(12, "not an http(s) URL") and has(15, "not an http(s) URL")
    assert has(18, "duplicate source URL")  # the same URL up to case and fragment
    assert has(20, "kind")
    assert has(22, "missing field 'name'")
    assert has(26, "level")
    assert has(27, "duplicate slug 'city'")
    assert has(33, "unknown parent 'nowhere'")
    assert len(error.problems) == 9
    assert "bad.yaml:5:" in str(error)
    assert count(database, Unit) == 0 and count(database, Source) == 0


def test_cycle_in_a_flat_tree(database: Database, tmp_path: Path) -> None:
    text = """\
units:
  - {slug: a, name: A, level: district, parent: c}
  - {slug: b, name: B, level: street, parent: a}
  - {slug: c, name: C, level: community, parent: b}
  - {slug: root, name: R, level: city}
"""
    error = import_error(database, write(tmp_path, "cycle.yaml", text))
    assert {problem.line for problem in error.problems} == {2, 3, 4}
    assert all("cycle" in problem.message for problem in error.problems)
    assert count(database, Unit) == 0


def test_cycle_through_units_already_in_the_store(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        tree = "units:\n  - {slug: a, name: A, level: city}\n"
        tree += "  - {slug: b, name: B, level: district, parent: a}\n"
        import_registry(session, write(tmp_path, "tree.yaml", tree))
    error = import_error(
        database, write(tmp_path, "loop.yaml", "units:\n  - {slug: a, name: A, level: city, parent: b}\n")
    )
    assert [problem.line for problem in error.problems] == [2]
    assert "cycle" in error.problems[0].message


def test_source_url_owned_by_another_unit_in_the_store(database: Database, tmp_path: Path) -> None:
    first = "units:\n  - slug: a\n    name: A\n    level: city\n    sources:\n"
    first += "      - {name: f, kind: feed, url: 'http://127.0.0.1/f.xml'}\n"
    with database.session() as session:
        import_registry(session, write(tmp_path, "a.yaml", first))
    second = first.replace("slug: a", "slug: z").replace("name: A", "name: Z")
    error = import_error(database, write(tmp_path, "z.yaml", second))
    assert [(p.line, "already belongs to unit 'a'" in p.message) for p in error.problems] == [(6, True)]
    assert count(database, Unit) == 1


def test_csv_problems_carry_the_row_line(database: Database, tmp_path: Path) -> None:
    text = (
        "unit_slug,unit_name,parent_slug,level,type,region,website,source_name,kind,url,category,"
        "platform,account,selectors\n"
        "city,某市,,city,government,,,通知,feed,http://127.0.0.1/rss.xml,,,,\n"
        "d01,某区,city,district,nonsense,,,,,,,,,\n"
        "d02,某区二,city,district,government,,,列表,html,javascript:alert(1),,,,\n"
        "d03,某区三,ghost,district,government,,,列表,html,http://127.0.0.1/l.html,,,,{not json\n"
        "d04,某区四,city,district,government,,,通知,feed,http://127.0.0.1/rss.xml,,,,\n"
    )
    error = import_error(database, write(tmp_path, "units.csv", text))
    by_line = {problem.line: problem.message for problem in error.problems}
    assert set(by_line) == {3, 4, 5, 6}
    assert "type" in by_line[3]
    assert "url" in by_line[4]
    assert "selectors are not JSON" in by_line[5] or "unknown parent" in by_line[5]
    assert "duplicate source URL" in by_line[6]
    assert all(str(problem).startswith("units.csv:") for problem in error.problems)
    assert count(database, Unit) == 0


def test_csv_unknown_and_missing_columns(database: Database, tmp_path: Path) -> None:
    error = import_error(database, write(tmp_path, "cols.csv", "unit_slug,unit_name,colour\ncity,某市,red\n"))
    messages = sorted(problem.message for problem in error.problems)
    assert messages == ["missing column 'level'", "unknown column 'colour'"]
    assert all(problem.line == 1 for problem in error.problems)


def test_yaml_syntax_error_has_a_line(database: Database, tmp_path: Path) -> None:
    error = import_error(
        database, write(tmp_path, "broken.yaml", "units:\n  - slug: a\n    name: [unclosed\n")
    )
    assert error.problems[0].file == "broken.yaml" and error.problems[0].line >= 3


def test_opml_feed_outside_a_unit_and_bad_feed_url(database: Database, tmp_path: Path) -> None:
    text = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>t</title></head>
<body>
  <outline text="orphan" type="rss" xmlUrl="http://127.0.0.1/orphan.xml"/>
  <outline text="某市" slug="city" level="city">
    <outline text="bad" type="rss" xmlUrl="file:///etc/passwd"/>
  </outline>
</body></opml>
"""
    error = import_error(database, write(tmp_path, "feeds.opml", text))
    assert sorted(problem.line for problem in error.problems) == [4, 6]
    assert count(database, Unit) == 0


def snapshot(database: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every column of every unit and source, in id order."""
    with database.session() as session:
        units = [tuple(row) for row in session.execute(select(*Unit.__table__.columns).order_by(Unit.id))]
        sources = [
            tuple(row) for row in session.execute(select(*Source.__table__.columns).order_by(Source.id))
        ]
    return units, sources


GOOD_TREE = """\
units:
  - slug: city
    name: 某市
    level: city
    sources:
      - {name: 通知, kind: feed, url: 'http://127.0.0.1:8700/city/rss.xml', category: 通知公告}
    children:
      - slug: d01
        name: 某区
        level: district
        sources:
          - {name: 列表, kind: html, url: 'http://127.0.0.1:8700/d01/list.html'}
"""


def test_a_bad_reimport_changes_nothing(database: Database, tmp_path: Path) -> None:
    """A re-import that renames units, moves and adds sources and adds a unit, but has one bad line,
    leaves every column of every unit and source as it was."""
    with database.session() as session:
        import_registry(session, write(tmp_path, "good.yaml", GOOD_TREE))
    before = snapshot(database)
    changed = (
        GOOD_TREE.replace("某市", "某市（改）")
        .replace("rss.xml", "feed.xml")
        .replace("category: 通知公告", "category: 工作动态")
        + "      - slug: d02\n        name: 新区\n        level: district\n"
        + "        sources:\n          - {name: 坏, kind: podcast, url: 'http://127.0.0.1:8700/p.xml'}\n"
    )
    error = import_error(database, write(tmp_path, "changed.yaml", changed))
    assert [(problem.file, problem.line) for problem in error.problems] == [("changed.yaml", 17)]
    assert snapshot(database) == before


def test_values_longer_than_the_store_keeps_are_reported_with_their_line(
    database: Database, tmp_path: Path
) -> None:
    """Names, URLs, categories and account ids longer than their columns are problems of the file
    (PostgreSQL would refuse them mid-import with no file or line; SQLite would keep them)."""
    text = f"""\
units:
  - slug: city
    name: {"某" * 201}
    level: city
    region: "1234567890123"
    sources:
      - name: feed
        kind: feed
        url: http://127.0.0.1/{"a" * 1000}
      - name: wb
        kind: account
        platform: weibo
        account: "{"9" * 101}"
        category: {"类" * 51}
"""
    error = import_error(database, write(tmp_path, "long.yaml", text))
    assert sorted(problem.line for problem in error.problems) == [3, 5, 9, 13, 14]
    assert all("at most" in problem.message for problem in error.problems)
    assert count(database, Unit) == 0 and count(database, Source) == 0


def test_the_cli_import_names_file_and_line_and_changes_nothing(database: Database, tmp_path: Path) -> None:
    """`xinlian sources import` of a bad file: exit status 1, every problem as file:line, store unchanged."""
    with database.session() as session:
        import_registry(session, write(tmp_path, "good.yaml", GOOD_TREE))
    before = snapshot(database)
    bad = write(
        tmp_path, "bad.yaml", GOOD_TREE.replace("kind: html", "kind: podcast").replace("某区", "改名")
    )
    env = {"XINLIAN_DEMO": "true", "XINLIAN_STORE__URL": database.url}
    result = CliRunner().invoke(build_app(), ["sources", "import", str(bad)], env=env)
    assert result.exit_code == 1
    assert "bad.yaml:12:" in result.output
    assert snapshot(database) == before
