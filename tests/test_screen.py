"""Screening: hits at the right place in the original, links and quality, risk; stored on ingest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.db import Database
from hub.ingest import ingest
from hub.models import Item, ScreeningHit, Source, Unit
from hub.rawitem import Attachment, RawItem
from hub.settings import ModerationSettings
from moderation.lexicon import load_lexicon
from moderation.matcher import Matcher
from moderation.queue import list_queue
from moderation.screen import Screener, ScreenOptions, risk_score, screen
from moderation.screening import screen_item, screener_for, use_screener
from moderation.service import approve

BODY = "本次会议通报了全区基层党建工作的进展情况，并部署了下一阶段的重点任务。"
VALID_ID = "11010519491231002X"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_lexicon(ModerationSettings().lexicon_dir))


def run(text: str, matcher: Matcher, title: str = "通知", links: list[str] | None = None, **extra: object):  # type: ignore[no-untyped-def]
    return screen(
        text, title, links or [], matcher=matcher, options=ScreenOptions(shorteners=("t.cn",)), **extra
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("hidden", ["ＢＵ得外传", "不得外傳", "不@得 外\u200b传", "不不得外外传"])
def test_hidden_term_is_found_at_its_place_in_the_original(matcher: Matcher, hidden: str) -> None:
    text = BODY + f"此件{hidden.replace('ＢＵ', '不')}，请妥善保管。"
    result = run(text, matcher)
    hits = [hit for hit in result.hits if hit.category == "classified"]
    assert [hit.term for hit in hits] == ["不得外传"]
    assert text[hits[0].start : hits[0].end] == hidden.replace("ＢＵ", "不")
    assert hits[0].field == "text" and hits[0].lexicon_version == matcher.version


def test_full_width_latin_term(tmp_path: Path) -> None:
    (tmp_path / "ads.txt").write_text("vx号\tadvertising\t3\n", encoding="utf-8")
    custom = Matcher(load_lexicon(tmp_path))
    text = BODY + "详情请加ＶＸ號咨询。"
    hit = next(hit for hit in run(text, custom).hits if hit.category == "advertising")
    assert text[hit.start : hit.end] == "ＶＸ號"


def test_whitelisted_phrase_is_not_a_hit(matcher: Matcher) -> None:
    result = run(BODY + "明天起该路口交通管制。", matcher)
    assert [hit for hit in result.hits if hit.category == "vulgar"] == []


def test_personal_data_in_text_and_attachment_names(matcher: Matcher) -> None:
    result = run(BODY + f"张三，{VALID_ID}。", matcher, attachment_names=[f"名单-{VALID_ID}.xls"])
    ids = [(hit.field, hit.term) for hit in result.hits if hit.category == "pii_id_card"]
    assert ids == [("text", "110105********002X"), ("attachments", "110105********002X")]
    assert result.max_severity == 5


def test_links_quality_and_duplicates(matcher: Matcher) -> None:
    links = ["/local.html", "http://www.example.gov.cn/a", "https://evil.example.com/x", "http://t.cn/abc"]
    result = run("短", matcher, links=links, own_hosts={"www.unit.cn"}, duplicate_of=7)
    found = {(hit.category, hit.field, hit.start) for hit in result.hits}
    assert found == {
        ("link_external", "links", 2),
        ("link_shortener", "links", 3),
        ("quality_short", "item", 0),
        ("quality_duplicate", "item", 0),
    }
    garbled = "ÃÂ»ÃÂ¯Ã¤Â¸Â­Ã¦ÂÂÃ¦ÂÂ¬" * 3
    assert "quality_mojibake" in {hit.category for hit in run(BODY + garbled, matcher).hits}
    assert "quality_mojibake" in {hit.category for hit in run(BODY + "\ufffd" * 5, matcher).hits}
    assert run(BODY, matcher).hits == ()


def test_risk_is_the_strongest_hit_plus_a_little_per_further_hit_times_trust(matcher: Matcher) -> None:
    result = run(BODY + "绝密文件，加微信。", matcher)
    assert sorted(hit.severity for hit in result.hits) == [3, 5]
    assert result.risk_score == pytest.approx(5.3)
    assert risk_score(result.hits, trust_factor=1.1) == pytest.approx(5.83)


# --- stored on ingest ------------------------------------------------------------------------------


@pytest.fixture
def source_id(database: Database) -> Iterator[int]:
    with database.session() as session:
        unit = Unit(slug="d1", name="某区", level="district", path="/", website="http://d1.example.cn/")
        session.add(unit)
        session.flush()
        unit.path = f"/{unit.id}/"
        source = Source(unit_id=unit.id, name="通知", kind="feed", url="http://127.0.0.1:8700/d1.xml")
        session.add(source)
        session.flush()
        source_id = source.id
    yield source_id


def raw(source_id: int, number: int, body: str, **extra: object) -> RawItem:
    url = f"http://127.0.0.1:8700/d1/{number}.html"
    return RawItem(source_id=source_id, url=url, title=f"通知{number}", html=f"<p>{body}</p>", **extra)  # type: ignore[arg-type]


def hits_of(database: Database, item_id: int, revision: int) -> list[tuple[str, int, int, str]]:
    with database.session() as session:
        rows = session.scalars(
            select(ScreeningHit)
            .where(ScreeningHit.item_id == item_id, ScreeningHit.revision_number == revision)
            .order_by(ScreeningHit.id)
        )
        return [(row.field, row.start, row.end, row.category) for row in rows]


def test_ingest_stores_hits_and_risk_of_new_items_and_revisions(database: Database, source_id: int) -> None:
    secret = BODY + "本件機密，不得外傳。"
    with database.session() as session:
        item_id = ingest(
            session, raw(source_id, 1, secret, attachments=[Attachment("名单.xls", "http://t.cn/x")])
        ).item_id
    stored = hits_of(database, item_id, 1)
    start = secret.index("機密")
    assert ("text", start, start + 2, "classified") in stored
    assert ("links", 0, 1, "link_shortener") in stored
    with database.session() as session:
        item = session.get(Item, item_id)
        assert item is not None and item.risk_score == pytest.approx(
            (4 + 0.4 + 0.3) * 0.9
        )  # 机密 4, 不得外传 4, t.cn 3; district
        lexicon_versions = set(session.scalars(select(ScreeningHit.lexicon_version)))
        assert lexicon_versions == {screener_for(session).matcher().version}
        approve(session, item_id, "reviewer")
    with database.session() as session:
        ingest(session, raw(source_id, 1, BODY + "已更正，无敏感内容。"))
    # The new revision is screened on its own (attachments are not revisioned: the live ones count).
    assert [hit[3] for hit in hits_of(database, item_id, 2)] == ["link_shortener"]
    assert hits_of(database, item_id, 1)  # the first revision's hits stay for the audit
    with database.session() as session:
        item = session.get(Item, item_id)
        assert item is not None and item.risk_score == pytest.approx(3 * 0.9)


def test_queue_orders_by_risk_then_age(database: Database, source_id: int) -> None:
    bodies = [BODY, BODY + "加微信领取。", BODY, BODY + "绝密。"]
    with database.session() as session:
        ids = [ingest(session, raw(source_id, n, body)).item_id for n, body in enumerate(bodies)]
    with database.session() as session:
        assert [item.id for item in list_queue(session, order="risk")] == [ids[3], ids[1], ids[0], ids[2]]
        assert [item.id for item in list_queue(session, order="age")] == ids


def test_configured_screener_and_rescreen(database: Database, source_id: int, tmp_path: Path) -> None:
    (tmp_path / "own.txt").write_text("基层党建\ttopic\t1\n", encoding="utf-8")
    screener = Screener.from_settings(ModerationSettings(lexicon_dir=str(tmp_path)))
    use_screener(database.sessions, screener)
    with database.session() as session:
        item_id = ingest(session, raw(source_id, 1, BODY)).item_id
    assert [hit[3] for hit in hits_of(database, item_id, 1)] == ["topic"]
    (tmp_path / "own.txt").write_text("下一阶段\ttopic\t2\n", encoding="utf-8")
    with database.session() as session:
        item = session.get(Item, item_id)
        assert item is not None
        result = screen_item(session, item, 1)  # re-screen after a lexicon edit: hits replaced
    assert [hit.term for hit in result.hits] == ["下一阶段"]
    assert [hit[3] for hit in hits_of(database, item_id, 1)] == ["topic"]
    assert len(hits_of(database, item_id, 1)) == 1
