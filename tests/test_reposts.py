"""Reposts: a city notice reposted by three branches is stored four times, all linked to the original."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.runner import crawl
from hub.db import Database
from hub.fingerprint import similarity, sketch
from hub.ingest import ingest
from hub.models import Item, ItemFingerprintKey, Source, Unit
from hub.rawitem import RawItem
from hub.reposts import RepostPolicy
from hub.settings import Settings
from moderation.service import approve
from tests.minisite import MiniSite, mini_site

NOTICE = """各区县人民政府，市政府各部门：
为做好今年汛期防汛抗旱工作，确保人民群众生命财产安全，经市政府同意，现就有关事项通知如下。
一、提高思想认识。各地各部门要充分认识做好防汛工作的重要性，切实增强责任感和紧迫感。
二、落实工作责任。严格落实以行政首长负责制为核心的防汛责任制，层层压实责任。
三、强化隐患排查。对水库、河道、地质灾害隐患点开展拉网式排查，建立台账，限期整改。
四、做好应急准备。完善应急预案，充实抢险队伍和物资储备，确保关键时刻拉得出、用得上。
特此通知。"""
OTHER = """各街道、各部门：
为丰富辖区居民精神文化生活，街道定于六月举办第三届社区邻里文化节，现将活动安排通知如下。
一、活动时间。六月十日至六月二十日，每天上午九点至下午五点，逢雨顺延。
二、活动内容。包括书画展览、广场舞比赛、亲子运动会和美食分享会等十余项活动。
三、报名方式。请各社区于六月五日前将报名表报送街道文化站，联系电话见附件。"""
BRANCH_EDITS = [
    ("转载自：某某市人民政府网站\n", "", ""),
    ("", "\n责任编辑：王五", "确保人民群众"),
    ("来源：市政府办公室\n", "\n（本站转载）", "限期整改"),
]


def repost_text(index: int) -> str:
    header, footer, edited = BRANCH_EDITS[index]
    body = NOTICE.replace(edited, edited[:-1] + "切实" + edited[-1]) if edited else NOTICE
    return header + body + footer


def test_sketches_tell_reposts_from_other_notices() -> None:
    original = sketch(NOTICE)
    assert original is not None
    for index in range(3):
        copy = sketch(repost_text(index))
        assert copy is not None and similarity(original, copy) >= 0.85
    other = sketch(OTHER)
    assert other is not None and similarity(original, other) < 0.3
    assert sketch("通知：明天停水。") is None  # too short to fingerprint


def _units(session: Session, count: int) -> list[Source]:
    """A city (first) and ``count - 1`` branches under it, one HTML source each."""
    city = Unit(slug="city", name="某某市", level="city", path="/")
    session.add(city)
    session.flush()
    city.path = f"/{city.id}/"
    units = [city]
    for number in range(1, count):
        branch = Unit(slug=f"b{number}", name=f"第{number}支部", level="branch", parent_id=city.id)
        session.add(branch)
        session.flush()
        branch.path = f"{city.path}{branch.id}/"
        units.append(branch)
    sources = [
        Source(unit_id=unit.id, name=unit.name, kind="html", url=f"http://127.0.0.1:1/{unit.slug}/list.html")
        for unit in units
    ]
    session.add_all(sources)
    session.flush()
    return sources


def _raw(source: Source, text: str, day: int, slug: str) -> RawItem:
    return RawItem(
        source_id=source.id,
        url=f"http://127.0.0.1:1/{slug}/a/1.html",
        title="关于做好2024年防汛工作的通知",
        text=text,
        html="".join(f"<p>{line}</p>" for line in text.splitlines()),
        published_at=datetime(2024, 5, day, 2, 0, tzinfo=UTC),
        date_source="label",
    )


def test_three_branch_reposts_link_to_the_city_original(database: Database) -> None:
    with database.session() as session:
        city, *branches = _units(session, 4)
        original = ingest(session, _raw(city, NOTICE, 6, "city")).item_id
        reposts = [
            ingest(session, _raw(branch, repost_text(i), 7 + i, f"b{i}")).item_id
            for i, branch in enumerate(branches)
        ]
        unrelated = ingest(session, _raw(branches[0], OTHER, 8, "b0-other")).item_id
    with database.session() as session:
        items = {item.id: item for item in session.scalars(select(Item))}
        assert len(items) == 5
        assert items[original].repost_of_id is None
        assert [items[i].repost_of_id for i in reposts] == [original] * 3
        assert items[unrelated].repost_of_id is None
        assert session.scalars(select(ItemFingerprintKey.item_id).distinct()).all()


def test_an_original_crawled_after_its_reposts_becomes_the_original(database: Database) -> None:
    with database.session() as session:
        city, *branches = _units(session, 4)
        reposts = [
            ingest(session, _raw(branch, repost_text(i), 7 + i, f"b{i}")).item_id
            for i, branch in enumerate(branches)
        ]
        first = reposts[0]
        with session.no_autoflush:
            assert [session.get(Item, i).repost_of_id for i in reposts[1:]] == [first, first]  # type: ignore[union-attr]
        original = ingest(session, _raw(city, NOTICE, 6, "city")).item_id
    with database.session() as session:
        stored = {item.id: item.repost_of_id for item in session.scalars(select(Item))}
        assert stored == {original: None, **{i: original for i in reposts}}


def test_same_day_copy_prefers_the_unmarked_higher_unit(database: Database) -> None:
    with database.session() as session:
        city, branch = _units(session, 2)
        marked = "转载自：某某市人民政府网站\n" + NOTICE
        repost = ingest(session, _raw(branch, marked, 6, "b")).item_id  # same day, crawled first
        original = ingest(session, _raw(city, NOTICE, 6, "city")).item_id
        assert session.get(Item, repost).repost_of_id == original  # type: ignore[union-attr]


def test_similarity_threshold_is_a_policy(database: Database) -> None:
    with database.session() as session:
        city, branch = _units(session, 2)
        ingest(session, _raw(city, NOTICE, 6, "city"))
        strict = RepostPolicy(min_similarity=1.0)
        copy = ingest(session, _raw(branch, repost_text(1), 7, "b"), reposts=strict).item_id
        assert session.get(Item, copy).repost_of_id is None  # type: ignore[union-attr]


def _article(site: MiniSite, slug: str, header: str, text: str, date: str) -> str:
    paragraphs = "".join(f"<p>{line}</p>" for line in text.splitlines())
    return site.html(
        f"/{slug}/a/1.html",
        f"<html><head><title>关于做好2024年防汛工作的通知 - {header}</title></head><body>"
        f"<div class='header'><h2>{header}</h2><a href='/{slug}/list.html'>首页</a></div>"
        f"<div class='main'><h1>关于做好2024年防汛工作的通知</h1>"
        f"<div class='info'>发布时间：{date}　来源：{header}</div>"
        f"<div class='content'>{paragraphs}</div></div>"
        f"<div class='footer'>版权所有：{header} 地址：某某路{len(slug)}号</div></body></html>",
    )


def _list(site: MiniSite, slug: str, urls: list[tuple[str, str]]) -> str:
    rows = "".join(f"<li><a href='{url}'>{title}</a><span>2024-05-06</span></li>" for url, title in urls)
    return site.html(f"/{slug}/list.html", f"<html><body><ul class='news'>{rows}</ul></body></html>")


def test_crawl_stores_a_notice_four_times_and_links_three_reposts_to_one_original(
    settings: Settings, database: Database
) -> None:
    with mini_site() as site:
        slugs = ["city", "b1", "b2", "b3"]
        headers = ["某某市人民政府", "第一支部", "第二支部", "第三支部"]
        dates = ["2024-05-06 09:30", "2024-05-07 10:00", "2024-05-07 15:00", "2024-05-08 08:00"]
        texts = [NOTICE, *(repost_text(i) for i in range(3))]
        with database.session() as session:
            sources = _units(session, 4)
            for source, slug, header, text, date in zip(sources, slugs, headers, texts, dates, strict=True):
                url = _article(site, slug, header, text, date)
                source.url = _list(site, slug, [(url, "关于做好2024年防汛工作的通知")])
        summary = crawl(settings, trigger="test")
    assert summary.sources_failed == 0 and summary.items_new == 4
    with database.session() as session:
        items = session.scalars(select(Item).order_by(Item.published_at)).all()
        assert len(items) == 4
        original = items[0]
        assert original.url.endswith("/city/a/1.html") and original.repost_of_id is None
        assert [item.repost_of_id for item in items[1:]] == [original.id] * 3


def test_an_approved_edit_that_turns_into_a_repost_is_linked_when_it_goes_live(database: Database) -> None:
    with database.session() as session:
        city, branch = _units(session, 2)
        original = ingest(session, _raw(city, NOTICE, 6, "city")).item_id
        own = ingest(session, _raw(branch, OTHER, 7, "b")).item_id
        approve(session, own, "王芳")
        ingest(session, _raw(branch, repost_text(0), 7, "b"))  # the branch replaced its page with the notice
        assert session.get(Item, own).repost_of_id is None  # type: ignore[union-attr]  # live text unchanged
        approve(session, own, "王芳")  # the edit goes live
        assert session.get(Item, own).repost_of_id == original  # type: ignore[union-attr]
