"""The full-text option (hub/fulltextmode.py) is written in registry files, survives every export format,
and an unknown value is refused at its line; the staff form's choice is kept with the selectors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from api.source_form import SourceForm
from hub.db import Database
from hub.models import Source, Unit
from hub.registry import export_registry, import_registry
from hub.registry.errors import RegistryError
from hub.sourceadmin import InvalidSource, source_row, update_source
from tests.test_registry_roundtrip import empty, write

REGISTRY = """\
units:
  - slug: jd
    name: 某某街道
    level: street
    sources:
      - name: 通知
        kind: feed
        url: http://127.0.0.1:8700/sites/jd/rss.xml
        selectors:
          full_text: always
      - name: 公告
        kind: feed
        url: http://127.0.0.1:8700/sites/jd/notice.xml
        selectors:
          full_text: never
          guid: url
      - name: 动态
        kind: feed
        url: http://127.0.0.1:8700/sites/jd/news.xml
"""
EXPECTED = {"rss.xml": "always", "notice.xml": "never", "news.xml": None}


def options(database: Database) -> dict[str, str | None]:
    with database.session() as session:
        return {
            url.rsplit("/", 1)[1]: (selectors or {}).get("full_text")
            for url, selectors in session.execute(select(Source.url, Source.selectors))
        }


@pytest.mark.parametrize("fmt", ["yaml", "csv", "opml"])
def test_full_text_option_round_trips_through_every_format(
    database: Database, tmp_path: Path, fmt: str
) -> None:
    with database.session() as session:
        import_registry(session, write(tmp_path, "registry.yaml", REGISTRY))
    assert options(database) == EXPECTED
    with database.session() as session:
        exported = export_registry(session, fmt)
    empty(database)
    with database.session() as session:
        import_registry(session, write(tmp_path, f"export.{fmt}", exported))
    assert options(database) == EXPECTED


def test_opml_reads_the_full_text_attribute(database: Database, tmp_path: Path) -> None:
    opml = (
        '<opml version="2.0"><head><title>t</title></head><body>'
        '<outline text="某某街道" slug="jd" level="street">'
        '<outline text="通知" type="rss" xmlUrl="http://127.0.0.1:8700/sites/jd/rss.xml" fullText="Always"/>'
        "</outline></body></opml>"
    )
    with database.session() as session:
        import_registry(session, write(tmp_path, "feeds.opml", opml))
    assert options(database) == {"rss.xml": "always"}


def test_an_unknown_full_text_value_names_its_line(database: Database, tmp_path: Path) -> None:
    text = REGISTRY.replace("full_text: always", "full_text: sometimes")
    with database.session() as session, pytest.raises(RegistryError) as caught:
        import_registry(session, write(tmp_path, "registry.yaml", text))
    line = text.splitlines().index("        selectors:") + 1
    assert f"registry.yaml:{line}:" in str(caught.value) and "full_text" in str(caught.value)
    assert options(database) == {}  # nothing written


def test_staff_form_sets_and_keeps_the_option() -> None:
    form = SourceForm(name="通知", kind="feed", url="http://127.0.0.1:8700/rss.xml", full_text="never")
    row = source_row(form.fields())
    assert row.selectors["full_text"] == "never"
    # Left on "automatic" the option is not written (auto is the default); other selectors are kept.
    auto = SourceForm(name="通知", kind="feed", url="http://127.0.0.1:8700/rss.xml", sel_body=".text")
    assert source_row(auto.fields({"full_text": "always"})).selectors == {"body": ".text"}
    with pytest.raises(InvalidSource) as refused:
        source_row(SourceForm(name="通知", kind="feed", url="http://h.example/rss", full_text="x").fields())
    assert [problem.field for problem in refused.value.problems] == ["selectors"]


def test_a_changed_option_makes_the_next_answer_parsed_again(database: Database, tmp_path: Path) -> None:
    def set_hashes() -> None:
        with database.session() as session:
            session.execute(update(Source).values(body_hash="h"))

    def hashes() -> dict[str, str | None]:
        with database.session() as session:
            return {
                url.rsplit("/", 1)[1]: h for url, h in session.execute(select(Source.url, Source.body_hash))
            }

    with database.session() as session:
        import_registry(session, write(tmp_path, "registry.yaml", REGISTRY))
    set_hashes()
    with database.session() as session:  # the same file: nothing changes, the hashes stay
        import_registry(session, write(tmp_path, "registry.yaml", REGISTRY))
    assert set(hashes().values()) == {"h"}
    changed = REGISTRY.replace("full_text: always", "full_text: never")
    with database.session() as session:  # an unchanged feed must now be read under the new option
        import_registry(session, write(tmp_path, "changed.yaml", changed))
    assert hashes() == {"rss.xml": None, "notice.xml": "h", "news.xml": "h"}


def test_staff_edit_of_the_option_clears_the_body_hash(database: Database) -> None:
    with database.session() as session:
        unit = Unit(slug="jd", name="某某街道", level="street", path="/")
        session.add(unit)
        session.flush()
        source = Source(unit_id=unit.id, name="通知", kind="feed", url="http://127.0.0.1:8700/rss.xml")
        source.body_hash = "h"
        session.add(source)
        session.flush()
        assert update_source(session, source, {"name": "通知"}, actor="t") == []
        assert source.body_hash == "h"  # nothing changed
        update_source(session, source, {"selectors": {"full_text": "always"}}, actor="t")
        assert source.body_hash is None and source.selectors == {"full_text": "always"}
