"""A feed that carries only teasers: the article page completes each entry, and the feed's date is
the lowest-precedence date of the page (used only when the page shows none). The source's full-text
option (hub/fulltextmode.py) forces the fetch or forbids it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crawlers.runner import crawl
from hub.db import Database
from hub.models import Item, Source, Unit
from hub.settings import Settings
from tests.minisite import mini_site

BODY = "各社区：现将近期防汛工作安排通知如下，请各单位认真组织落实，确保安全度汛，及时报送材料。" * 4


def _feed(base: str) -> bytes:
    items = "".join(
        f"<item><title>通知{n}</title><link>{base}/a/{n}.html</link>"
        f"<pubDate>Mon, 06 May 2024 0{n}:30:00 +0800</pubDate><description>摘要{n}</description></item>"
        for n in (1, 2)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{items}'.encode()
        + (b"</channel></rss>")
    )


def test_teaser_pages_use_their_own_date_else_the_feeds(settings: Settings, database: Database) -> None:
    with mini_site() as site:
        site.html(
            "/a/1.html", f"<html><body><h1>通知1</h1><div class='content'><p>{BODY}</p></div></body></html>"
        )
        site.html(
            "/a/2.html",
            f"<html><body><h1>通知2</h1><p>发布时间：2024年05月07日 10:00</p>"
            f"<div class='content'><p>{BODY}</p></div></body></html>",
        )
        site.pages["/rss.xml"] = ("application/rss+xml; charset=utf-8", _feed(site.base_url))
        with database.session() as session:
            unit = Unit(slug="jd", name="某某街道", level="street", path="/")
            session.add(unit)
            session.flush()
            session.add(Source(unit_id=unit.id, name="通知公告", kind="feed", url=f"{site.base_url}/rss.xml"))
        summary = crawl(settings, trigger="test")
    assert summary.items_new == 2
    with database.session() as session:
        items = {item.title: item for item in session.scalars(select(Item))}
    first, second = items["通知1"], items["通知2"]
    assert BODY in first.text and BODY in second.text  # the full text, not the teaser
    assert first.published_at is not None and second.published_at is not None
    assert (
        first.date_source == "feed" and first.published_at.strftime("%Y-%m-%d %H:%M") == "2024-05-05 17:30"
    )  # UTC
    assert (
        second.date_source == "label" and second.published_at.strftime("%Y-%m-%d %H:%M") == "2024-05-07 02:00"
    )


PAGE_MARK = "附件：防汛物资清单及联系人名单（页面全文）"
LONG = "各街道：根据市防汛指挥部部署，现将今年汛期值班、巡查和物资储备要求通知如下，请结合实际抓好落实。" * 5


def _mode_feed(base: str) -> bytes:
    """Entry 1 carries only a teaser; entry 2 a body long enough that "auto" does not fetch its page."""
    items = "".join(
        f"<item><title>通知{n}</title><link>{base}/a/{n}.html</link>"
        f"<pubDate>Mon, 06 May 2024 0{n}:30:00 +0800</pubDate><description>{text}</description></item>"
        for n, text in ((1, "摘要1"), (2, LONG))
    )
    channel = f"<channel><title>t</title>{items}</channel>"
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0">{channel}</rss>'.encode()


@pytest.mark.parametrize("fast_feeds", [True, False], ids=["fast-path", "feed-spider"])
def test_full_text_option_always_never_and_auto(
    settings: Settings, database: Database, fast_feeds: bool
) -> None:
    settings.crawl.fast_feeds = fast_feeds
    with mini_site() as site:
        with database.session() as session:
            unit = Unit(slug="jd", name="某某街道", level="street", path="/")
            session.add(unit)
            session.flush()
            for mode in ("auto", "always", "never"):
                base = f"{site.base_url}/{mode}"
                site.pages[f"/{mode}/rss.xml"] = ("application/rss+xml; charset=utf-8", _mode_feed(base))
                for n in (1, 2):  # each page says more than its feed entry
                    site.html(
                        f"/{mode}/a/{n}.html",
                        f"<html><body><h1>通知{n}</h1><div class='content'><p>{LONG}</p><p>{BODY}</p>"
                        f"<p>{PAGE_MARK}</p></div></body></html>",
                    )
                selectors = {} if mode == "auto" else {"full_text": mode}  # auto is the default
                session.add(
                    Source(
                        unit_id=unit.id, name=mode, kind="feed", url=f"{base}/rss.xml", selectors=selectors
                    )
                )
        summary = crawl(settings, trigger="test")
    assert summary.items_new == 6 and summary.sources_failed == 0
    with database.session() as session:
        from_page = {
            (source.name, item.title): PAGE_MARK in item.text
            for item, source in session.execute(
                select(Item, Source).join(Source, Source.id == Item.source_id)
            )
        }
    assert from_page == {
        ("auto", "通知1"): True,  # a teaser: its page is fetched
        ("auto", "通知2"): False,  # a long body is kept as the feed gives it
        ("always", "通知1"): True,
        ("always", "通知2"): True,  # fetched although the feed's body is long
        ("never", "通知1"): False,  # the teaser stays a teaser
        ("never", "通知2"): False,
    }
