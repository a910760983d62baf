"""A feed that carries only teasers: the article page completes each entry, and the feed's date is
the lowest-precedence date of the page (used only when the page shows none)."""

from __future__ import annotations

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
    assert (
        first.date_source == "feed" and first.published_at.strftime("%Y-%m-%d %H:%M") == "2024-05-05 17:30"
    )  # UTC
    assert (
        second.date_source == "label" and second.published_at.strftime("%Y-%m-%d %H:%M") == "2024-05-07 02:00"
    )
