"""Removed at source: a deleted page (404/410) or one missing from its listing for N crawls is marked
removed and kept; an edited page becomes a revision (the rest of ingest is unchanged)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from crawlers.runner import crawl
from hub.db import Database
from hub.ingest import ingest
from hub.ingestbatch import ingest_batch
from hub.models import CrawlOutcome, CrawlRun, Item, Source, Unit
from hub.rawitem import RawItem
from hub.removal import mark_gone, record_listing
from hub.settings import Settings
from tests.minisite import MiniSite, mini_site

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def _source(database: Database, url: str) -> int:
    with database.session() as session:
        unit = Unit(slug="jd", name="某某街道", level="street", path="/")
        session.add(unit)
        session.flush()
        source = Source(unit_id=unit.id, name="通知公告", kind="html", url=url)
        session.add(source)
        session.flush()
        return source.id


def _store(database: Database, source_id: int, count: int) -> list[str]:
    """``count`` items, item 0 the newest (published a day apart)."""
    urls = [f"http://127.0.0.1:1/jd/a/{n}.html" for n in range(count)]
    with database.session() as session:
        for n, url in enumerate(urls):
            raw = RawItem(
                source_id=source_id,
                url=url,
                title=f"通知{n}",
                text=f"第{n}号通知正文。",
                published_at=T0 - timedelta(days=n),
            )
            ingest(session, raw)
    return urls


def _removed(database: Database) -> dict[str, bool]:
    with database.session() as session:
        return {item.url: item.removed_at_source_at is not None for item in session.scalars(select(Item))}


def test_gone_pages_are_marked_once_and_kept(database: Database) -> None:
    source_id = _source(database, "http://127.0.0.1:1/jd/list.html")
    urls = _store(database, source_id, 3)
    with database.session() as session:
        assert mark_gone(session, source_id, [urls[1] + "#x", "http://127.0.0.1:1/unknown.html"], T0) == 1
        assert mark_gone(session, source_id, [urls[1]], T0) == 0  # already marked
    assert _removed(database) == {urls[0]: False, urls[1]: True, urls[2]: False}


def test_missing_from_the_listing_n_times_in_a_row(database: Database) -> None:
    source_id = _source(database, "http://127.0.0.1:1/jd/list.html")
    urls = _store(database, source_id, 4)
    without_1 = [urls[0], urls[2]]  # urls[3] is older than anything listed: scrolled away, not missing
    with database.session() as session:
        assert record_listing(session, source_id, without_1, 2, T0) == 0
        assert record_listing(session, source_id, urls, 2, T0) == 0  # seen again: the count restarts
        assert record_listing(session, source_id, without_1, 2, T0) == 0
        assert record_listing(session, source_id, without_1, 2, T0) == 1
        assert record_listing(session, source_id, without_1, 0, T0) == 0  # 0: listings never remove
        assert record_listing(session, source_id, [], 2, T0) == 0  # an empty listing proves nothing
    assert _removed(database) == {urls[0]: False, urls[1]: True, urls[2]: False, urls[3]: False}


def _article(site: MiniSite, n: int, text: str) -> str:
    return site.html(
        f"/jd/a/{n}.html",
        f"<html><head><title>通知{n}_某某街道</title></head><body><h1>关于第{n}项工作的通知</h1>"
        f"<div class='info'>发布时间：2024-05-0{9 - n} 09:00</div>"
        f"<div class='text'><p>{text}</p></div></body></html>",
    )


def _list(site: MiniSite, numbers: list[int]) -> str:
    rows = "".join(
        f"<li><a href='/jd/a/{n}.html'>关于第{n}项工作的通知</a><span>2024-05-0{9 - n}</span></li>"
        for n in numbers
    )
    return site.html("/jd/list.html", f"<html><body><ul class='news'>{rows}</ul></body></html>")


def _body(n: int) -> str:
    return f"各社区：现将第{n}项工作的安排通知如下，请按时完成并报送材料，逾期不再受理。"


def _read_list_again(database: Database) -> None:
    """The next crawl reads the list page even if its bytes did not change: otherwise it is not modified
    (crawlers/bodyhash.py) and, as after a 304, no article is fetched and the listing says nothing."""
    with database.session() as session:
        session.execute(update(Source).values(body_hash=None))


def test_crawls_mark_deleted_and_unlisted_pages_removed_and_keep_them(
    settings: Settings, database: Database
) -> None:
    settings.crawl.removed_after_missing = 2
    with mini_site() as site:
        for n in range(4):
            _article(site, n, _body(n))
        source_id = _source(database, _list(site, [0, 1, 2, 3]))
        first = crawl(settings, trigger="test")
        assert first.items_new == 4

        del site.pages["/jd/a/1.html"]  # deleted, still linked from the list: 404 on re-fetch
        _article(site, 0, _body(0) + "（已更新）")  # edited: a new revision
        _read_list_again(database)
        second = crawl(settings, trigger="test")
        assert second.items_updated == 1
        assert _removed(database) == {f"{site.base_url}/jd/a/{n}.html": n == 1 for n in range(4)}

        _list(site, [0, 1, 3])  # item 2 drops off the list (its page stays): two crawls to count
        crawl(settings, trigger="test")
        assert not _removed(database)[f"{site.base_url}/jd/a/2.html"]
        _read_list_again(database)
        fourth = crawl(settings, trigger="test")
    removed = _removed(database)
    assert removed == {f"{site.base_url}/jd/a/{n}.html": n in (1, 2) for n in range(4)}
    with database.session() as session:
        counts = {
            run_id: session.scalar(select(CrawlOutcome.items_removed).where(CrawlOutcome.run_id == run_id))
            for run_id in (first.run_id, second.run_id, fourth.run_id)
        }
        assert counts == {first.run_id: 0, second.run_id: 1, fourth.run_id: 1}
        run = session.get(CrawlRun, second.run_id)
        assert run is not None and run.items_removed == 1
        kept = session.scalars(select(Item).where(Item.url.endswith("/jd/a/1.html"))).one()
        assert kept.state == "pending" and kept.text  # kept in the archive, content intact
        edited = session.scalars(select(Item).where(Item.url.endswith("/jd/a/0.html"))).one()
        assert edited.revision_count == 2
    assert source_id


def test_a_page_that_answers_again_is_no_longer_removed(database: Database) -> None:
    source_id = _source(database, "http://127.0.0.1:1/jd/list.html")
    urls = _store(database, source_id, 3)
    with database.session() as session:
        assert mark_gone(session, source_id, urls[:2], T0) == 2
    raws = [
        RawItem(
            source_id=source_id,
            url=url,
            title=f"通知{n}",
            text=f"第{n}号通知正文。",
            published_at=T0 - timedelta(days=n),
        )
        for n, url in enumerate(urls)
    ]
    with database.session() as session:
        assert ingest(session, raws[0]).status == "unchanged"  # single path
    with database.session() as session:
        assert [o.status for o in ingest_batch(session, raws[1:]) if o] == [
            "unchanged",
            "unchanged",
        ]  # batch path
    assert _removed(database) == {url: False for url in urls}
    with database.session() as session:
        assert mark_gone(session, source_id, [urls[0]], T0) == 1  # and can be marked again later


def test_an_unchanged_listing_counts_as_another_miss(settings: Settings, database: Database) -> None:
    """A site that deletes a notice and publishes nothing afterwards: its list page stays the same
    bytes (not modified), yet the notice is still missing from it, crawl after crawl."""
    settings.crawl.removed_after_missing = 2
    with mini_site() as site:
        for n in range(4):
            _article(site, n, _body(n))
        _list(site, [0, 1, 2, 3])
        source_id = _source(database, f"{site.base_url}/jd/list.html")
        crawl(settings, trigger="test")
        _list(site, [0, 1, 3])  # item 2 deleted from the list (its page too)
        del site.pages["/jd/a/2.html"]
        crawl(settings, trigger="test")  # the changed list is parsed: a first miss
        assert not _removed(database)[f"{site.base_url}/jd/a/2.html"]
        again = crawl(settings, trigger="test")  # same bytes: not modified, and a second miss
        with database.session() as session:
            outcome = session.scalars(select(CrawlOutcome).where(CrawlOutcome.run_id == again.run_id)).one()
            assert (outcome.status, outcome.items_removed) == ("not_modified", 1)
    assert _removed(database) == {f"{site.base_url}/jd/a/{n}.html": n == 2 for n in range(4)}
    assert source_id
