"""Migration 0005: a store with fingerprint keys from before it keeps finding reposts after it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, select

from hub.db import Database, alembic_config
from hub.ingest import ingest
from hub.models import Item, ItemFingerprintKey
from tests.test_reposts import NOTICE, OTHER, _raw, _units, repost_text


def test_keys_stored_before_0005_get_their_sources_and_still_link(database_url: str) -> None:
    database = Database(database_url)
    with database.session() as session:
        city, first, second = _units(session, 3)
        original = ingest(session, _raw(city, NOTICE, 6, "city")).item_id
        ingest(session, _raw(first, OTHER, 7, "b-other"))
    database.dispose()
    command.downgrade(alembic_config(database_url), "0004")  # the keys as the previous version stored them
    command.upgrade(alembic_config(database_url), "head")

    database = Database(database_url)
    try:
        with database.session() as session:
            keys = session.execute(
                select(ItemFingerprintKey.item_id, ItemFingerprintKey.source_id, Item.source_id).join(
                    Item, Item.id == ItemFingerprintKey.item_id
                )
            ).all()
            assert keys and all(copied == actual for _, copied, actual in keys)
            indexes = {
                ix["name"]: ix["column_names"]
                for ix in inspect(session.connection()).get_indexes("item_fingerprint_keys")
            }
            assert indexes.get("ix_item_fingerprint_keys_bucket") == ["key", "item_id", "source_id"]
            # A repost crawled after the upgrade finds the original through the keys stored before it.
            repost = ingest(session, _raw(second, repost_text(0), 8, "b2")).item_id
        with database.session() as session:
            assert session.get(Item, repost).repost_of_id == original  # type: ignore[union-attr]
    finally:
        database.dispose()
