"""Revisits: an article edited under a list page whose bytes did not change is read within
crawl.revisit_after_s, because the crawl then sends no validators and parses the list again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from crawlers.runner import crawl
from hub.db import Database
from hub.models import CrawlOutcome, Item, Source
from hub.settings import Settings
from hub.timeutil import utcnow
from tests.minisite import MiniSite, mini_site
from tests.test_removed import _source

BODY = "关于做好冬季供暖保障工作的通知。各社区要在十一月十五日前完成管网检修，确保居民按时供暖。"


def _site(site: MiniSite) -> str:
    for n in range(2):
        _article(site, n, BODY + f"（第{n}号）")
    return site.html(
        "/jd/list.html",
        "<html><body><ul class='news'>"
        + "".join(
            f"<li><a href='/jd/a/{n}.html'>供暖通知{n}</a><span>2024-11-0{n + 1}</span></li>"
            for n in range(2)
        )
        + "</ul></body></html>",
    )


def _article(site: MiniSite, n: int, body: str) -> None:
    site.html(
        f"/jd/a/{n}.html",
        f"<html><head><title>供暖通知{n}</title></head><body><h1>供暖通知{n}</h1>"
        f"<p>发布时间：2024-11-0{n + 1}</p><div class='content'><p>{body}</p></div></body></html>",
    )


def _age_parse(database: Database, source_id: int, days: int) -> None:
    with database.session() as session:
        session.execute(
            update(Source).where(Source.id == source_id).values(parsed_at=utcnow() - timedelta(days=days))
        )


def _status(database: Database, run_id: int) -> str:
    with database.session() as session:
        return session.scalars(select(CrawlOutcome.status).where(CrawlOutcome.run_id == run_id)).one()


def _revisions(database: Database) -> dict[str, int]:
    with database.session() as session:
        return {item.url.rsplit("/", 1)[-1]: item.revision_count for item in session.scalars(select(Item))}


def test_an_edit_under_an_unchanged_list_is_read_once_the_parse_is_older_than_revisit(
    settings: Settings, database: Database
) -> None:
    settings.crawl.revisit_after_s = 86400
    with mini_site() as site:
        source_id = _source(database, _site(site))
        first = crawl(settings, trigger="test")
        assert first.items_new == 2 and _status(database, first.run_id) == "ok"
        with database.session() as session:
            parsed = session.scalars(select(Source.parsed_at).where(Source.id == source_id)).one()
        assert parsed is not None and utcnow() - parsed < timedelta(minutes=5)

        _article(site, 0, BODY + "（第0号）更正：供暖时间提前至十一月十日。")  # the list stays the same
        second = crawl(settings, trigger="test")  # same list bytes: not modified, the edit unseen
        assert _status(database, second.run_id) == "not_modified"
        assert _revisions(database) == {"0.html": 1, "1.html": 1}

        _age_parse(database, source_id, days=2)  # the last parse is older than a day
        third = crawl(settings, trigger="test")
        assert _status(database, third.run_id) == "ok" and third.items_updated == 1
        assert _revisions(database) == {"0.html": 2, "1.html": 1}

        fourth = crawl(settings, trigger="test")  # parsed just now: validators again
        assert _status(database, fourth.run_id) == "not_modified"


def test_revisits_off_keeps_trusting_the_validators(settings: Settings, database: Database) -> None:
    settings.crawl.revisit_after_s = 0
    with mini_site() as site:
        source_id = _source(database, _site(site))
        crawl(settings, trigger="test")
        _article(site, 0, BODY + "（第0号）更正。")
        _age_parse(database, source_id, days=30)
        again = crawl(settings, trigger="test")
        assert _status(database, again.run_id) == "not_modified"
        assert _revisions(database) == {"0.html": 1, "1.html": 1}
