"""``xinlian index reindex`` driven in-process with typer's runner against a real store and index."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import build_app
from hub.db import Database
from hub.models import Item, ItemState
from hub.settings import Settings
from index.backend import SearchQuery
from index.factory import open_backend
from tests.fixtures.search import make_document
from tests.test_index_reindex import add_items, change_item, seed_unit

EVERY_STATE = SearchQuery(states=None, collapse_reposts=False, limit=200)


def run(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["--config", str(config_file), *args], env={"COLUMNS": "300"})
    return result.exit_code, result.output


def test_reindex_makes_the_index_equal_the_store(
    config_file: Path, settings: Settings, database: Database
) -> None:
    unit_id, source_id = seed_unit(database)
    approved = add_items(
        database, unit_id, source_id, [f"城市规划公示 {n}" for n in range(5)], ItemState.APPROVED
    )
    pending = add_items(database, unit_id, source_id, ["待审公示 甲", "待审公示 乙"], ItemState.PENDING)
    change_item(database, approved[0], state=ItemState.WITHDRAWN)
    change_item(database, approved[1], title="城市规划公示 1（修订）")
    # The index is out of date: a document of an item that no longer exists, one stale version.
    backend = open_backend(settings)
    try:
        backend.ensure_ready()
        backend.upsert(
            [make_document(900_001, title="已删除的公示"), make_document(approved[1], title="旧标题")]
        )
    finally:
        backend.close()

    code, output = run(config_file, "index", "reindex")
    assert code == 0, output
    assert "indexed 7 documents" in output

    with database.session() as session:
        in_store = {item.id: (item.title, item.state) for item in session.scalars(select(Item))}
    assert set(in_store) == {*approved, *pending}
    backend = open_backend(settings)
    try:
        everything = backend.search(EVERY_STATE)
        assert everything.total == len(in_store) and backend.count() == len(in_store)
        assert {hit.item_id: (hit.title, hit.state) for hit in everything.hits} == in_store
        public = {hit.item_id for hit in backend.search(SearchQuery(limit=200)).hits}
        assert public == set(approved[1:])
        assert backend.search(SearchQuery(text="旧标题", states=None)).total == 0
    finally:
        backend.close()
