"""The public portal: home, search page, item page, unit page, 404s, language, degraded search."""

from __future__ import annotations

import re
import string
import zlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import lxml.html
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.i18n import _MESSAGES
from api.routes.portal import Links
from hub.db import Database
from hub.ingest import ingest
from hub.models import Source
from hub.rawitem import RawItem
from hub.settings import Settings
from index.backend import SearchBackend
from index.factory import open_backend
from index.outbox import drain_outbox
from moderation.service import approve
from tests.fixtures.web import REVIEWER, PortalData, add_unit


def _result_titles(html: str) -> list[str]:
    """The result titles as text (query matches in them are marked)."""
    marked = re.findall(r'<h2 class="result-title"><a href="[^"]+">(.*?)</a>', html)
    return [re.sub("</?mark>", "", title) for title in marked]


def test_home_lists_approved_notices_and_never_pending(client: TestClient, portal_data: PortalData) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "学校召开党建工作推进会" in page.text
    assert "Volunteer day" in page.text
    assert "待审核的党建简报" not in page.text
    assert 'role="search"' in page.text


def test_search_page_finds_chinese_word_with_highlight_and_links(
    client: TestClient, portal_data: PortalData
) -> None:
    page = client.get("/search", params={"q": "党建"})
    assert page.status_code == 200
    assert _result_titles(page.text) == ["学校召开党建工作推进会"]
    assert ">学校召开<mark>党建</mark>工作推进会</a></h2>" in page.text  # the match marked in the title too
    assert f'href="/items/{portal_data.party_item}"' in page.text
    assert 'href="http://127.0.0.1:8700/n/1.html"' in page.text  # the source page
    assert "待审核" not in page.text
    assert 'value="党建"' in page.text  # the box keeps the query: the URL is the shareable state


def test_search_page_finds_english_word_never_pending(client: TestClient, portal_data: PortalData) -> None:
    page = client.get("/search", params={"q": "volunteer"})
    assert page.status_code == 200
    assert _result_titles(page.text) == ["Volunteer day"]


def test_search_filters_by_unit_subtree_and_level(client: TestClient, portal_data: PortalData) -> None:
    assert len(_result_titles(client.get("/search", params={"q": "党建", "unit": "east"}).text)) == 1
    assert _result_titles(client.get("/search", params={"q": "党建", "unit": "nowhere"}).text) == []
    assert _result_titles(client.get("/search", params={"q": "党建", "level": "city"}).text) == []


def test_item_page_shows_content_dates_breadcrumb_reviewer(
    client: TestClient, portal_data: PortalData
) -> None:
    page = client.get(f"/items/{portal_data.party_item}")
    assert page.status_code == 200
    html = page.text
    assert "<h1>学校召开党建工作推进会</h1>" in html
    assert "<b>党建</b>" in html  # sanitized markup kept
    assert "alert(1)" not in html  # the script of the source never reaches the page
    assert "2024-05-06 09:30" in html  # 01:30 UTC shown in Asia/Shanghai
    assert "页面标注" in html  # where the date came from
    assert f"责任审核人：{REVIEWER}" in html
    assert 'href="http://127.0.0.1:8700/f/plan.pdf"' in html and "工作方案.pdf" in html
    assert 'href="http://127.0.0.1:8700/n/1.html"' in html
    crumbs = re.findall(
        r'<a href="/units/([a-z-]+)">', html.split('class="breadcrumb"')[1].split("</nav>")[0]
    )
    assert crumbs == ["city", "east", "east-school"]


def test_hostile_titles_are_escaped_everywhere(client: TestClient, portal_data: PortalData) -> None:
    for path in (f"/items/{portal_data.hostile_item}", "/", "/search?q=通知"):
        html = client.get(path).text
        assert "<script>alert('x')</script>" not in html, path
        assert "&lt;script&gt;" in html, path


def test_pending_and_missing_items_are_404(client: TestClient, portal_data: PortalData) -> None:
    for item_id in (portal_data.pending_item, 999_999):
        page = client.get(f"/items/{item_id}")
        assert page.status_code == 404
        assert "页面不存在" in page.text
        assert "待审核的党建简报" not in page.text
    assert client.get("/units/nowhere").status_code == 404


def test_unit_page_shows_tree_and_subtree_notices(client: TestClient, portal_data: PortalData) -> None:
    page = client.get("/units/east")
    assert page.status_code == 200
    assert "东城区委" in page.text
    assert 'href="/units/city"' in page.text  # parent
    assert 'href="/units/east-school"' in page.text  # child
    assert "学校召开党建工作推进会" in page.text  # notice of a unit below
    assert "待审核的党建简报" not in page.text


def test_english_on_request_and_remembered(client: TestClient, portal_data: PortalData) -> None:
    page = client.get("/", params={"lang": "en"})
    assert '<html lang="en">' in page.text
    assert "City notices" in page.text and "Most active units this month" in page.text
    assert client.cookies.get("lang") == "en"
    again = client.get(f"/items/{portal_data.party_item}")
    assert "Reviewed by " + REVIEWER in again.text
    assert "City notices" not in client.get("/", params={"lang": "zh-CN"}).text


def test_search_down_degrades_with_a_message(settings: Settings, database: Database) -> None:
    backend = open_backend(settings)
    backend.ensure_ready()
    backend.close()  # a backend that can no longer answer: every call fails as if the index were gone
    with TestClient(create_app(settings, database, backend)) as client:
        page = client.get("/search", params={"q": "党建"})
        assert page.status_code == 503
        assert "搜索服务暂时不可用" in page.text
        assert client.get("/").status_code == 200  # the rest of the portal still works
        assert client.get("/api/v1/search", params={"q": "党建"}).status_code == 503
        health = client.get("/readyz")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"


def test_static_css_is_served_locally(client: TestClient) -> None:
    page = client.get("/")
    assert 'href="/static/portal.css"' in page.text
    assert client.get("/static/portal.css").status_code == 200
    assert "cdn" not in page.text.lower()


def test_search_pages_through_results_with_shareable_links(
    settings: Settings, database: Database, portal_data: PortalData, app: FastAPI
) -> None:
    one_per_page = settings.model_copy(update={"web": settings.web.model_copy(update={"page_size": 1})})
    with TestClient(create_app(one_per_page, database, app.state.backend)) as client:
        first = client.get("/search", params={"sort": "date"})
        assert "第 1 / 3 页" in first.text
        assert 'href="?sort=date&amp;page=2"' in first.text
        second = client.get("/search?sort=date&page=2")
        assert _result_titles(second.text) != _result_titles(first.text)
        assert 'rel="prev"' in second.text and 'rel="next"' in second.text
        api = client.get("/api/v1/search", params={"limit": 1, "page": 3})
        assert api.json()["pages"] == 3 and len(api.json()["items"]) == 1


def _approve_new(database: Database, app: FastAPI, title: str, **extra: object) -> int:
    """One more approved notice of the seeded branch's source, indexed."""
    with database.session() as session:
        source = session.scalars(select(Source)).first()
        assert source is not None
        raw = RawItem(
            source_id=source.id,
            url=f"http://127.0.0.1:8700/n/{zlib.crc32(title.encode())}.html",
            title=title,
            html=f"<p>{title}。</p>",
            published_at=datetime(2024, 5, 8, 2, 0, tzinfo=UTC),
            **extra,  # type: ignore[arg-type]
        )
        item_id = ingest(session, raw).item_id
        approve(session, item_id, REVIEWER)
    drain_outbox(database, app.state.backend)
    return item_id


def test_item_page_lists_related_notices(
    client: TestClient, database: Database, app: FastAPI, portal_data: PortalData
) -> None:
    related = _approve_new(database, app, "全区党建工作推进情况通报")
    html = client.get(f"/items/{portal_data.party_item}").text
    section = html.split('aria-labelledby="related-heading"')[1].split("</section>")[0]
    assert "相关信息" in section
    assert f'href="/items/{related}"' in section and "全区党建工作推进情况通报" in section
    assert f'href="/items/{portal_data.party_item}"' not in section  # never the item itself


def test_item_page_without_search_leaves_related_out(
    settings: Settings, database: Database, app: FastAPI, portal_data: PortalData
) -> None:
    _approve_new(database, app, "全区党建工作推进情况通报")
    closed = open_backend(settings)
    closed.close()  # a backend that fails every call
    with TestClient(create_app(settings, database, closed)) as client:
        page = client.get(f"/items/{portal_data.party_item}")
        assert page.status_code == 200
        assert "学校召开党建工作推进会" in page.text and "related-heading" not in page.text


def test_item_page_names_where_each_date_came_from(
    client: TestClient, database: Database, app: FastAPI, portal_data: PortalData
) -> None:
    listed = _approve_new(database, app, "列表页日期的通知", date_source="list", date_flag="future_clamped")
    html = client.get(f"/items/{listed}").text
    assert "2024-05-08 10:00" in html  # 02:00 UTC in Asia/Shanghai
    assert "（日期来源：列表页）" in html
    assert "原网页标注的日期晚于采集时间" in html
    english = client.get(f"/items/{listed}", params={"lang": "en"}).text
    assert "(date taken from the list page)" in english


def test_search_page_keeps_filters_and_offers_recency(client: TestClient, portal_data: PortalData) -> None:
    html = client.get(
        "/search",
        params={"q": "党建", "unit": "east", "since": "2024-05-01", "until": "2024-05-31", "recent": "1"},
    ).text
    form = html.split('<form class="filters"')[1].split("</form>")[0]
    for name, value in (("q", "党建"), ("unit", "east"), ("since", "2024-05-01"), ("until", "2024-05-31")):
        assert f'<input type="hidden" name="{name}" value="{value}">' in form
    assert '<input type="checkbox" name="recent" value="1" checked>' in form
    active = html.split('class="active-filters"')[1].split("</section>")[0]
    assert "单位：东城区委" in active and "日期：2024-05-01 至 2024-05-31" in active
    # Removing the unit keeps the dates, the words and the recency option.
    assert 'href="?q=%E5%85%9A%E5%BB%BA&amp;since=2024-05-01&amp;until=2024-05-31&amp;recent=1"' in active
    facets = html.split('id="facets"')[1].split("</aside>")[0]
    assert 'aria-current="true">2024-05</a>' in facets  # the month chosen is marked
    assert _result_titles(html) == ["学校召开党建工作推进会"]


def test_search_page_facets_come_after_results_with_counts(
    client: TestClient, portal_data: PortalData
) -> None:
    html = client.get("/search").text
    assert html.index('class="results"') < html.index('id="facets"')
    assert 'href="#facets"' in html  # a phone reader can jump past the results
    unit_facet = html.split('id="facet-unit"')[1].split("</section>")[0]
    assert "东城实验学校党支部" in unit_facet and "3 条" in unit_facet


def test_portal_links_agree_with_the_router(app: FastAPI) -> None:
    links = Links("")
    assert links.item(42) == app.url_path_for("item_page", item_id=42)
    for slug in ("east", "east-school", "d0s0b11"):
        assert links.unit(slug) == app.url_path_for("unit_page", slug=slug)
    assert Links("/portal").unit("east") == "/portal/units/east"


def test_every_message_has_both_languages_with_the_same_placeholders() -> None:
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key, (chinese, english) in _MESSAGES.items():
        assert chinese.strip() and english.strip(), key
        assert fields(chinese) == fields(english), key


def _seed_flood_notices(database: Database, backend: SearchBackend) -> dict[str, int]:
    """Three approved notices about 防汛 at three levels: the city's (category 通知公告, the word in its
    title and twice in its text, the oldest), the district's (工作动态, the word once, the newest) and the
    school's (no category, in between)."""
    with database.session() as session:
        city = add_unit(session, "city", "示例市委", "city")
        east = add_unit(session, "east", "东城区委", "district", city)
        school = add_unit(session, "east-school", "东城实验学校党支部", "branch", east)
        notices = {
            "city": (city, "通知公告", "市防汛工作部署", "<p>全市防汛工作部署：各单位落实防汛责任。</p>", 1),
            "east": (east, "工作动态", "东城区社区活动简报", "<p>社区开展了活动，也检查了防汛物资。</p>", 20),
            "school": (school, None, "学校开展应急演练", "<p>学校组织师生进行防汛应急演练。</p>", 10),
        }  # fmt: skip
        ids = {}
        for key, (unit, category, title, body, day) in notices.items():
            source = Source(
                unit_id=unit.id, name=f"{unit.name}网站", kind="feed", category=category,
                url=f"http://127.0.0.1:8700/{key}/feed.xml",
            )  # fmt: skip
            session.add(source)
            session.flush()
            raw = RawItem(
                source_id=source.id,
                url=f"http://127.0.0.1:8700/{key}/1.html",
                title=title,
                html=body,
                published_at=datetime(2024, 5, day, 2, 0, tzinfo=UTC),
                date_source="label",
            )
            ids[key] = ingest(session, raw).item_id
            approve(session, ids[key], REVIEWER)
    drain_outbox(database, backend)
    return ids


def _facet_links(html: str, name: str) -> dict[str, str]:
    """label -> href of the links in facet ``name``."""
    section = lxml.html.fromstring(html).xpath(f'//section[@aria-labelledby="facet-{name}"]')[0]
    return {str(a.text_content()): str(a.get("href")) for a in section.xpath(".//a")}


def test_search_page_level_and_category_facets_link_to_their_filter(
    app: FastAPI, client: TestClient, database: Database
) -> None:
    _seed_flood_notices(database, app.state.backend)
    html = client.get("/search", params={"q": "防汛"}).text
    levels = _facet_links(html, "level")
    assert set(levels) == {"市级", "区县", "基层"}
    categories = _facet_links(html, "category")
    assert set(categories) == {"通知公告", "工作动态"}

    district = client.get("/search" + levels["区县"])  # the link keeps the words and adds the level
    assert parse_qs(urlsplit(levels["区县"]).query) == {"q": ["防汛"], "level": ["district"]}
    assert _result_titles(district.text) == ["东城区社区活动简报"]
    assert _facet_links(district.text, "level") == {"区县": levels["区县"]}
    on = lxml.html.fromstring(district.text).xpath(
        '//section[@aria-labelledby="facet-level"]//li[@class="on"]/a'
    )
    assert [a.get("aria-current") for a in on] == ["true"]
    assert "层级：区县" in district.text.split('class="active-filters"')[1].split("</section>")[0]

    notices = client.get("/search" + categories["通知公告"]).text
    assert parse_qs(urlsplit(categories["通知公告"]).query) == {"q": ["防汛"], "category": ["通知公告"]}
    assert _result_titles(notices) == ["市防汛工作部署"]


def test_search_page_orders_by_relevance_or_by_date(
    app: FastAPI, client: TestClient, database: Database
) -> None:
    _seed_flood_notices(database, app.state.backend)
    relevance = _result_titles(client.get("/search", params={"q": "防汛"}).text)
    by_date = _result_titles(client.get("/search", params={"q": "防汛", "sort": "date"}).text)
    # The city's notice says 防汛 in its title and twice in its text: first by relevance, last by date.
    assert relevance[0] == "市防汛工作部署"
    assert by_date == ["东城区社区活动简报", "学校开展应急演练", "市防汛工作部署"]
    assert sorted(relevance) == sorted(by_date)
    english = client.get("/search", params={"q": "防汛", "sort": "date", "lang": "en"}).text
    assert _result_titles(english) == by_date
