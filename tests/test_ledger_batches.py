"""The crawl ledger stores waiting items in transactions of at most INGEST_BATCH items (memory bound)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawlers import ledger as ledger_module
from crawlers.ledger import INGEST_BATCH, CrawlLedger, SourceJob
from hub.crawlrecord import start_run
from hub.db import Database
from hub.ingest import IngestOutcome
from hub.models import Item, Source, Unit
from hub.rawitem import RawItem


def test_a_burst_of_items_is_stored_in_bounded_transactions(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "http://127.0.0.1:9/feed.xml"
    with database.session() as session:
        unit = Unit(slug="city", name="某市", level="city", path="/")
        session.add(unit)
        session.flush()
        source = Source(unit_id=unit.id, name="通知公告", kind="feed", url=url)
        session.add(source)
        session.flush()
        source_id, run_id = source.id, start_run(session, "test", [source.id]).id
    ledger = CrawlLedger(database, run_id, [SourceJob(id=source_id, name="通知公告", kind="feed", url=url)])
    sizes: list[int] = []
    real = ledger_module.ingest_batch

    def counted(session: Session, raws: Sequence[RawItem]) -> list[IngestOutcome | None]:
        sizes.append(len(raws))
        return real(session, raws)

    monkeypatch.setattr(ledger_module, "ingest_batch", counted)
    total = INGEST_BATCH * 2 + 7
    items = [
        RawItem(
            source_id=source_id,
            url=f"http://127.0.0.1:9/a{n}.html",
            title=f"关于第{n}项工作的通知",
            html=f"<p>第{n}项工作的正文内容，请各单位认真落实。</p>",
        )
        for n in range(total)
    ]

    async def crawl() -> list[str | None]:
        for _ in items:
            ledger.item_found(source_id)
        statuses = await ledger.ingest_many(items)  # all waiting at once: one burst
        for _ in items:
            ledger.end(source_id)
        await ledger.close([source_id])
        return statuses

    try:
        statuses = asyncio.run(crawl())
    finally:
        ledger.shutdown()
    assert sizes == [INGEST_BATCH, INGEST_BATCH, 7]
    assert statuses == ["new"] * total
    with database.session() as session:
        assert session.scalar(select(func.count(Item.id))) == total
