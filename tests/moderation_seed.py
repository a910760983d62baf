"""A small moderation queue for the workflow tests: two districts, clean items and items with hits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from hub.db import Database
from hub.ingest import ingest
from hub.models import Source, Unit
from hub.rawitem import RawItem

T0 = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
CLEAN_BODY = "<p>本社区今天组织志愿者开展环境清洁活动，居民积极参与，共清理卫生死角{n}处。</p>"
HIT_BODY = "<p>此件为内部资料，请各支部认真学习第{n}期会议精神并抓好落实工作。</p>"


@dataclass(frozen=True, slots=True)
class Queue:
    """Ids of the seeded units and items (all pending, seen at T0 + the hours in their names)."""

    city: int
    east: int
    west: int
    east_branch: int
    east_clean: list[int]  # two clean items of the east branch
    east_hit: int  # an east item with a classified-marking hit
    west_clean: int
    west_hit: int


def add_unit(session: Session, slug: str, level: str, parent: Unit | None = None) -> Unit:
    unit = Unit(slug=slug, name=f"{slug}单位", level=level, parent_id=parent.id if parent else None)
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.flush()
    return unit


def raw(source: Source, n: int, body: str, title: str = "") -> RawItem:
    return RawItem(
        source_id=source.id,
        url=f"http://127.0.0.1:8700/{source.id}/{n}.html",
        title=title or f"社区工作动态第{n}期",
        html=body.format(n=n),
    )


def seed_queue(database: Database) -> Queue:
    """Units city → east (→ east-branch), west; pending items ingested an hour apart from T0."""
    with database.session() as session:
        city = add_unit(session, "city", "city")
        east = add_unit(session, "east", "district", city)
        west = add_unit(session, "west", "district", city)
        branch = add_unit(session, "east-branch", "branch", east)
        sources = {}
        for unit in (branch, east, west):
            source = Source(
                unit_id=unit.id, name=unit.slug, kind="feed", url=f"http://127.0.0.1:8700/{unit.slug}.xml"
            )
            session.add(source)
            session.flush()
            sources[unit.slug] = source
        plan = [
            (sources["east-branch"], 1, CLEAN_BODY),
            (sources["east-branch"], 2, CLEAN_BODY),
            (sources["east"], 3, HIT_BODY),
            (sources["west"], 4, CLEAN_BODY),
            (sources["west"], 5, HIT_BODY),
        ]
        ids = [ingest(session, raw(s, n, body), now=T0 + timedelta(hours=n)).item_id for s, n, body in plan]
        return Queue(city.id, east.id, west.id, branch.id, ids[:2], ids[2], ids[3], ids[4])
