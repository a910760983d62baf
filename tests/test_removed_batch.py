"""record_listings (several sources' listings at once, as the crawl ledger writes a batch of outcomes)
marks the same items, and returns the same counts, as record_listing one source at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from hub.db import Database
from hub.ingest import ingest
from hub.models import Item, Source, Unit
from hub.rawitem import RawItem
from hub.removal import record_listing, record_listings

T0 = datetime(2024, 6, 1, tzinfo=UTC)
State = dict[str, tuple[int, bool]]


def _stored(database: Database, sources: int, items: int) -> dict[int, list[str]]:
    """Sources with ``items`` items each, item 0 the newest (published a day apart)."""
    with database.session() as session:
        unit = Unit(slug="jd", name="某某街道", level="street", path="/")
        session.add(unit)
        session.flush()
        urls: dict[int, list[str]] = {}
        for s in range(sources):
            source = Source(unit_id=unit.id, name=f"通知{s}", kind="html", url=f"http://127.0.0.1:1/s{s}/")
            session.add(source)
            session.flush()
            urls[source.id] = [f"http://127.0.0.1:1/s{s}/a/{n}.html" for n in range(items)]
            for n, url in enumerate(urls[source.id]):
                text = f"第{s}-{n}号通知正文。"
                published = T0 - timedelta(days=n)
                ingest(session, RawItem(source.id, url, f"通知{n}", text=text, published_at=published))
    return urls


def _state(database: Database) -> State:
    with database.session() as session:
        return {
            item.url: (item.missing_count or 0, item.removed_at_source_at is not None)
            for item in session.scalars(select(Item))
        }


def _steps(urls: dict[int, list[str]]) -> list[dict[int, list[str]]]:
    """Listings of every source: a third of its items missing two steps in a row (then removed), a
    step listing everything, other thirds missing once or twice, a last step listing nothing."""
    offsets = [0, 0, None, 1, 2, 2, 1]  # which third is missing (None: none)

    def listed(items: list[str], source_id: int, offset: int | None) -> list[str]:
        return [url for n, url in enumerate(items) if offset is None or (n + source_id + offset) % 3]

    steps = [{s: listed(items, s, offset) for s, items in urls.items()} for offset in offsets]
    first = next(iter(urls))
    steps[0][first].append("http://127.0.0.1:1/unknown.html")  # listed, never stored
    return [*steps, {source_id: [] for source_id in urls}]


def test_batch_marks_and_counts_what_one_by_one_does(database: Database) -> None:
    urls = _stored(database, 4, 6)
    steps = _steps(urls)
    with database.session() as session:
        one_by_one = [
            {s: record_listing(session, s, listed, 2, T0) for s, listed in step.items()} for step in steps
        ]
    expected = _state(database)
    assert any(removed for _, removed in expected.values())  # the steps do mark some items
    assert any(missing for missing, _ in expected.values())  # and leave some counting
    with database.session() as session:
        session.execute(update(Item).values(missing_count=0, removed_at_source_at=None))
    with database.session() as session:
        batched = [record_listings(session, step, 2, T0) for step in steps]
    assert batched == one_by_one
    assert _state(database) == expected
