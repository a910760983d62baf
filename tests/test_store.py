"""The store: migrations match the models, UTC round-trips, unit paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from hub.db import Database
from hub.models import Base, Item, Source, Unit


def test_migrations_match_models(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ; regenerate: {diff}"


def test_datetimes_round_trip_as_aware_utc(database: Database) -> None:
    shanghai = timezone(timedelta(hours=8))
    published = datetime(2024, 5, 6, 9, 30, tzinfo=shanghai)
    with database.session() as session:
        unit = Unit(slug="city", name="市委", level="city", path="/")
        session.add(unit)
        session.flush()
        source = Source(unit_id=unit.id, name="feed", kind="feed", url="http://127.0.0.1/feed.xml")
        session.add(source)
        session.flush()
        session.add(
            Item(
                source_id=source.id,
                unit_id=unit.id,
                url="http://127.0.0.1/a",
                canonical_url="http://127.0.0.1/a",
                title="t",
                content_hash="h",
                published_at=published,
            )
        )
    with database.session() as session:
        item = session.scalars(select(Item)).one()
        assert item.published_at == datetime(2024, 5, 6, 1, 30, tzinfo=UTC)
        assert item.published_at.tzinfo is UTC
