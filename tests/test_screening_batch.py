"""Batch screening stores what one-by-one screening stores; one screener per process follows its lexicon."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from api.app import create_app
from hub.db import Database
from hub.ingest import ingest
from hub.ingestbatch import ingest_batch
from hub.models import Item, ScreeningHit, Source, Unit
from hub.rawitem import Attachment, RawItem
from hub.settings import ModerationSettings, Settings
from moderation.screen import Screener
from moderation.screening import (
    configure_screening,
    new_revisions,
    screen_item,
    screen_new_items,
    screen_revisions,
    screener_for,
    use_screener,
)

BODY = "本次会议通报了全区基层党建工作的进展情况，并部署了下一阶段的重点任务。"
BASE = "http://127.0.0.1:8700/b"


@pytest.fixture
def sources(database: Database) -> Iterator[tuple[int, int]]:
    """A district feed and a branch's social account (different trust factors)."""
    with database.session() as session:
        district = Unit(slug="d", name="某区", level="district", path="/", website="http://d.example.cn/")
        branch = Unit(slug="b", name="某支部", level="branch", path="/")
        session.add_all([district, branch])
        session.flush()
        district.path, branch.path = f"/{district.id}/", f"/{branch.id}/"
        feed = Source(unit_id=district.id, name="通知", kind="feed", url=f"{BASE}/d.xml")
        account = Source(unit_id=branch.id, name="公众号", kind="account", url=f"{BASE}/wx")
        session.add_all([feed, account])
        session.flush()
        ids = (feed.id, account.id)
    yield ids


def raws(feed: int, account: int) -> list[RawItem]:
    """Items with every kind of hit, and clean ones."""
    links = '<a href="http://t.cn/x">短链</a> <a href="https://evil.example.com/">外链</a>'
    bodies: list[tuple[int, str, dict[str, Any]]] = [
        (feed, BODY, {}),
        (feed, BODY + "本件機 密，不不得外外傳。", {}),
        (account, BODY + "加Ｖ信免费领取，身份证11010519491231002X。", {}),
        (account, BODY + links, {}),
        (feed, "短", {}),
        (feed, BODY + "ÃÂ»ÃÂ¯Ã¤Â¸Â­Ã¦ÂÂÃ¦ÂÂ¬" * 3, {}),
        (
            feed,
            BODY + "名单见附件。",
            {"attachments": [Attachment("名单-11010519491231002X.xls", "http://t.cn/a")]},
        ),
        (account, BODY + "前方路口交通管制。", {}),
    ]
    return [
        RawItem(source_id=source, url=f"{BASE}/{n}.html", title=f"通知{n}", html=f"<p>{body}</p>", **extra)
        for n, (source, body, extra) in enumerate(bodies)
    ]


def stored(session: Session, ids: list[int]) -> tuple[list[Any], list[Any]]:
    """Hits and risk scores of the items ``ids``."""
    hits = sorted(
        (
            h.item_id,
            h.revision_number,
            h.field,
            h.start,
            h.end,
            h.term,
            h.category,
            h.severity,
            h.lexicon_version,
        )
        for h in session.scalars(select(ScreeningHit).where(ScreeningHit.item_id.in_(ids)))
    )
    risks = sorted(
        (i, r) for i, r in session.execute(select(Item.id, Item.risk_score).where(Item.id.in_(ids)))
    )
    return hits, risks


def forget(session: Session, ids: list[int]) -> None:
    """Remove the screening of ``ids`` (as if they were just inserted)."""
    session.execute(delete(ScreeningHit).where(ScreeningHit.item_id.in_(ids)))
    session.execute(update(Item).where(Item.id.in_(ids)).values(risk_score=0.0))


def test_batch_screening_stores_what_screen_item_stores(database: Database, sources: tuple[int, int]) -> None:
    feed, account = sources
    items = raws(feed, account)
    original = replace(items[1], url=f"{BASE}/original.html", source_id=account)
    with database.session() as session:
        ingest_batch(session, [original])  # stored before: the batch's copy of it is a duplicate
    with database.session() as session:
        ids = [outcome.item_id for outcome in ingest_batch(session, items) if outcome]
    assert len(ids) == len(items)
    with database.session() as session:
        batch = stored(session, ids)
        forget(session, ids)
        for item in session.scalars(select(Item).where(Item.id.in_(ids)).order_by(Item.id)):
            screen_item(session, item, 1)
    with database.session() as session:
        assert stored(session, ids) == batch
    categories = {hit[6] for hit in batch[0]}
    assert {"classified", "pii_id_card", "link_shortener", "link_external", "quality_short"} <= categories
    assert {"quality_mojibake", "quality_duplicate", "advertising"} <= categories
    assert len({risk for _id, risk in batch[1]}) > 3  # trust factors and severities differ


def test_counts_per_item_and_rescreen_replaces_hits(database: Database, sources: tuple[int, int]) -> None:
    feed, account = sources
    with database.session() as session:
        ids = [ingest(session, raw).item_id for raw in raws(feed, account)]
    with database.session() as session:
        first = stored(session, ids)
        counts = {item_id: len([h for h in first[0] if h[0] == item_id]) for item_id in ids}
        assert counts[ids[0]] == 0 and counts[ids[-1]] == 0  # clean; 路口交通 is whitelisted
        revisions = new_revisions(session, ids)
        assert [revision.item_id for revision in revisions] == ids
        results = screen_revisions(session, revisions)  # a re-screen: hits replaced, not added
        assert {item_id: len(result.hits) for item_id, result in results.items()} == counts
    with database.session() as session:
        assert stored(session, ids) == first
        forget(session, ids)
        assert screen_new_items(session, ids) == counts
    with database.session() as session:
        assert stored(session, ids) == first


def write(path: Path, text: str, tick: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(tick, tick))  # a distinct modification time, however fast the test runs


def test_one_screener_per_process_follows_lexicon_edits(
    database: Database, sources: tuple[int, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="moderation.screen")
    feed, _account = sources
    lexicon = tmp_path / "own.txt"
    write(lexicon, "基层党建\ttopic\t1\n", 1_000_000_000)
    screener = configure_screening(database.sessions, ModerationSettings(lexicon_dir=str(tmp_path)))
    assert configure_screening(database.sessions, ModerationSettings()) is screener  # set up once only

    def batch(first: int) -> set[tuple[str, str]]:
        """Ingest three new items in one batch; (term, lexicon version) of their hits."""
        items = [
            RawItem(
                source_id=feed,
                url=f"{BASE}/r{first + n}.html",
                title="通知",
                html=f"<p>{BODY}第{first + n}号。</p>",
            )
            for n in range(3)
        ]
        with database.session() as session:
            assert screener_for(session) is screener
            ids = [outcome.item_id for outcome in ingest_batch(session, items) if outcome]
        with database.session() as session:
            query = select(ScreeningHit.term, ScreeningHit.lexicon_version).where(
                ScreeningHit.item_id.in_(ids)
            )
            return {(term, version) for term, version in session.execute(query)}

    first = batch(0)
    loaded = screener.matcher()
    second = batch(10)
    assert screener.matcher() is loaded  # nothing changed: the automaton is not rebuilt per batch
    assert first == second == {("基层党建", loaded.version)}
    assert len([r for r in caplog.records if "lexicon" in r.message]) == 1  # loaded once, not per batch
    write(lexicon, "下一阶段\ttopic\t2\n重点任务\ttopic\t2\n", 2_000_000_000)
    third = batch(20)  # the next batch after the edit uses the new lexicon, without a restart
    reloaded = screener.matcher()
    assert reloaded is not loaded and reloaded.version != loaded.version
    assert third == {("下一阶段", reloaded.version), ("重点任务", reloaded.version)}
    assert len([r for r in caplog.records if "lexicon" in r.message]) == 2


def test_web_app_and_explicit_screeners(database: Database, settings: Settings, tmp_path: Path) -> None:
    write(tmp_path / "x.txt", "基层党建\ttopic\t1\n", 1_000_000_000)
    own = Screener.from_settings(ModerationSettings(lexicon_dir=str(tmp_path)))
    use_screener(database.sessions, own)
    create_app(settings, database)  # keeps a screener the caller configured
    with database.sessions() as session:
        assert screener_for(session) is own
    fresh = Database(settings.store.url)
    try:
        create_app(settings, fresh)
        with fresh.sessions() as first, fresh.sessions() as second:
            assert screener_for(first) is screener_for(second)
            assert screener_for(first).loader.directory == Path(settings.moderation.lexicon_dir)
    finally:
        fresh.dispose()
