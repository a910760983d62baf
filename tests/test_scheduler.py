"""Step 3: due sources are claimed from next_check_at, capped per host, never twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.db import Database
from hub.models import Source, Unit
from hub.scheduler import claim_due_sources
from hub.timeutil import utcnow


def _add_sources(database: Database, urls_and_due: list[tuple[str, int | None]]) -> list[int]:
    now = utcnow()
    with database.session() as session:
        unit = Unit(slug="city", name="市", level="city", path="/")
        session.add(unit)
        session.flush()
        sources = [
            Source(
                unit_id=unit.id,
                name=url,
                kind="feed",
                url=url,
                next_check_at=None if due is None else now + timedelta(seconds=due),
            )
            for url, due in urls_and_due
        ]
        session.add_all(sources)
        session.flush()
        return [source.id for source in sources]


def test_claims_only_due_sources_and_leases_them(database: Database) -> None:
    ids = _add_sources(
        database,
        [("http://a.test/1", None), ("http://b.test/1", -60), ("http://c.test/1", 3600)],
    )
    with database.session() as session:
        claimed = claim_due_sources(session, limit=10, per_host_cap=5, lease_s=900)
    assert sorted(claimed) == sorted(ids[:2])
    with database.session() as session:
        # A second worker right after finds nothing: the lease moved next_check_at forward.
        assert claim_due_sources(session, limit=10, per_host_cap=5, lease_s=900) == []
        leased = session.scalars(select(Source.next_check_at).where(Source.id.in_(claimed))).all()
        assert all(value is not None and value > utcnow() + timedelta(seconds=800) for value in leased)


def test_per_host_cap_and_limit(database: Database) -> None:
    _add_sources(
        database, [(f"http://same.test/{n}", None) for n in range(5)] + [("http://other.test/", None)]
    )
    with database.session() as session:
        claimed = claim_due_sources(session, limit=10, per_host_cap=2, lease_s=900)
        hosts = [session.get(Source, source_id).url.split("/")[2] for source_id in claimed]  # type: ignore[union-attr]
    assert hosts.count("same.test") == 2
    assert hosts.count("other.test") == 1
    with database.session() as session:
        assert len(claim_due_sources(session, limit=1, per_host_cap=5, lease_s=900)) == 1


def test_expired_lease_makes_a_source_due_again(database: Database) -> None:
    _add_sources(database, [("http://a.test/feed", None)])
    with database.session() as session:
        assert len(claim_due_sources(session, limit=5, per_host_cap=5, lease_s=900)) == 1
    later = utcnow() + timedelta(seconds=901)
    with database.session() as session:
        assert len(claim_due_sources(session, limit=5, per_host_cap=5, lease_s=900, now=later)) == 1
