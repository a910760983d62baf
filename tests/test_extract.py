"""Article extraction: title without site suffix, body, 来源/作者, attachments and images absolute, dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawlers.extract import extract_article, strip_site_suffix
from crawlers.listpage import list_entries, next_page
from hub.sanitize import sanitize_html

NOW = datetime(2024, 6, 1, tzinfo=UTC)
URL = "http://www.example.gov.cn/xwzx/202405/t20240506_42.html"

ARTICLE = """<html><head><title>关于开展2024年党建工作的通知 - 某某区人民政府</title></head><body>
<div class="nav"><a href="/">首页</a> <a href="/xwzx/">新闻中心</a></div>
<div class="content">
  <h1>关于开展2024年党建工作的通知</h1>
  <div class="info">发布时间：2024年05月06日 09:30　来源：区委组织部　作者：张三</div>
  <div class="TRS_Editor">
    <p>各街道党工委、区直各单位：为深入推进基层党建工作，现将有关事项通知如下。</p>
    <p><img src="../images/p1.jpg"> 一、工作目标。坚持问题导向，着力解决群众急难愁盼问题。</p>
    <p>二、工作安排。各单位要认真组织学习，确保取得实效，请于五月底前报送材料。</p>
    <p>附件：<a href="files/plan.pdf">1. 实施方案.pdf</a> <a href="/up/form.docx">2. 报名表</a>
       <a href="http://other.example.cn/a.xlsx">汇总表</a></p>
  </div>
</div>
<div class="footer">版权所有 某某区人民政府 <a href="/sitemap.zip">网站地图</a></div>
</body></html>"""


def test_article_fields() -> None:
    item = extract_article(ARTICLE, URL, source_id=7, now=NOW)
    assert item.source_id == 7 and item.url == URL
    assert item.title == "关于开展2024年党建工作的通知"
    assert item.origin == "区委组织部"
    assert item.author == "张三"
    assert item.published_at == datetime(2024, 5, 6, 1, 30, tzinfo=UTC)
    assert item.date_source == "label"
    assert [(a.name, a.url) for a in item.attachments] == [
        ("1. 实施方案.pdf", "http://www.example.gov.cn/xwzx/202405/files/plan.pdf"),
        ("2. 报名表", "http://www.example.gov.cn/up/form.docx"),
        ("汇总表", "http://other.example.cn/a.xlsx"),
    ]
    assert item.images == ["http://www.example.gov.cn/xwzx/images/p1.jpg"]
    assert "深入推进基层党建工作" in item.text and "版权所有" not in item.text
    assert "首页" not in item.text
    assert 'src="http://www.example.gov.cn/xwzx/images/p1.jpg"' in item.html
    assert item.summary.startswith("各街道党工委")
    assert len(item.text.splitlines()) >= 3  # paragraphs survive as lines


def test_selectors_from_the_source_win() -> None:
    selectors = {"body": "div.TRS_Editor", "date": "div.info", "title": "h1"}
    item = extract_article(ARTICLE, URL, 1, selectors, now=NOW)
    assert item.date_source == "selector"
    assert item.html.startswith('<div class="TRS_Editor">')
    assert "来源" not in item.text


def test_meta_and_url_dates() -> None:
    meta = (
        '<html><head><meta name="PubDate" content="2024-05-06 08:00"></head><body><p>正文</p></body></html>'
    )
    item = extract_article(meta, URL, 1, now=NOW)
    assert (item.published_at, item.date_source) == (datetime(2024, 5, 6, 0, 0, tzinfo=UTC), "meta")
    bare = "<html><body><h1>标题标题</h1><p>正文内容</p></body></html>"
    item = extract_article(bare, URL, 1, now=NOW)
    assert (item.published_at, item.date_source) == (datetime(2024, 5, 5, 16, 0, tzinfo=UTC), "url")
    item = extract_article(bare, "http://x.cn/a/1.html", 1, now=NOW)
    assert (item.published_at, item.date_source) == (None, "first_seen")


def test_title_suffixes() -> None:
    assert strip_site_suffix("关于开展党建工作的通知 - 某某区人民政府") == "关于开展党建工作的通知"
    assert strip_site_suffix("关于开展党建工作的通知_某某区人民政府") == "关于开展党建工作的通知"
    assert strip_site_suffix("通知公告 | 某某街道", "某某街道") == "通知公告"
    assert strip_site_suffix("关于开展党建工作的通知") == "关于开展党建工作的通知"
    page = "<html><head><title>标题在这里呀_某站</title></head><body><p>x</p></body></html>"
    assert extract_article(page, URL, 1, now=NOW).title == "标题在这里呀"


LIST = """<html><body><div class="menu"><a href="/">首页</a></div>
<ul class="list">
 <li><a href="./202405/t20240506_1.html" title="关于开展党建工作的通知">关于开展党建...</a>
  <span>2024-05-06</span></li>
 <li><a href="./202405/t20240503_2.html">区政府召开常务会议</a><span>2024-05-03</span></li>
 <li><a href="./202404/t20240420_3.html">春季植树活动圆满结束</a><span>2024-04-20</span></li>
</ul><div class="page"><a href="index_1.html">下一页</a></div></body></html>"""


def test_list_page_heuristic_and_pagination() -> None:
    base = "http://www.example.gov.cn/xwzx/"
    entries = list_entries(LIST, base, None, "Asia/Shanghai")
    assert [e.url for e in entries] == [
        base + "202405/t20240506_1.html",
        base + "202405/t20240503_2.html",
        base + "202404/t20240420_3.html",
    ]
    assert entries[0].title == "关于开展党建工作的通知"
    assert entries[0].date == datetime(2024, 5, 5, 16, 0, tzinfo=UTC)
    assert next_page(LIST, base, None) == base + "index_1.html"


def test_list_page_with_selectors() -> None:
    selectors = {"item": "ul.list li", "link": "a", "date": "span", "next": "div.page a"}
    entries = list_entries(LIST, "http://www.example.gov.cn/xwzx/", selectors, "Asia/Shanghai")
    assert len(entries) == 3 and entries[2].title == "春季植树活动圆满结束"


def _page(
    head: str = "",
    info: str = "",
    body: str = "<p>各单位：入汛以来降雨偏多，现将做好今年防汛工作的有关事项通知如下，请认真贯彻落实。</p>",
) -> str:
    return (
        f"<html><head><title>关于做好防汛工作的通知_某某街道</title>{head}</head><body>"
        f"<div class='top'>网站首页 日期：2024年06月01日 星期六</div>"
        f"<div class='article'><h1>关于做好防汛工作的通知</h1><div class='info'>{info}</div>"
        f"<div class='text'>{body}</div></div></body></html>"
    )


PLAIN_URL = "http://jd.example.cn/news/123.html"
MAY6 = datetime(2024, 5, 5, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("page", "source"),
    [
        (_page(info="发布时间：2024年05月06日"), "label"),
        (_page(info="【发布日期】二〇二四年五月六日"), "label"),
        (_page(info="发布日期：二零二四年五月六日 来源：街道办"), "label"),
        (_page(info="日期:２０２４－０５－０６"), "label"),
        (_page(info="时间：2024/5/6"), "label"),
        (_page(head='<meta name="PubDate" content="2024-05-06">'), "meta"),
        (_page(head='<meta property="article:published_time" content="2024-05-05T16:00:00Z">'), "meta"),
        (_page(head='<meta name="DC.Date.Created" content="2024-05-06">'), "meta"),
        (_page(head='<meta name="DC.date" content="2024.05.06">'), "meta"),
        (_page(head='<meta name="publishdate" content="2024年5月6日">'), "meta"),
    ],
)
def test_each_date_form_with_its_source(page: str, source: str) -> None:
    item = extract_article(page, PLAIN_URL, 1, now=NOW)
    assert (item.published_at, item.date_source, item.date_flag) == (MAY6, source, None)


def test_label_near_the_title_wins_over_the_page_header_date_and_meta() -> None:
    page = _page(head='<meta name="PubDate" content="2024-01-01">', info="发布时间：2024-05-06")
    item = extract_article(page, PLAIN_URL, 1, now=NOW)
    assert (item.published_at, item.date_source) == (MAY6, "label")


def test_list_and_feed_dates_fill_in_before_the_url() -> None:
    bare = "<html><body><h1>关于做好防汛工作的通知</h1><p>各单位：现将有关事项通知如下。</p></body></html>"
    listed = datetime(2024, 5, 4, tzinfo=UTC)
    item = extract_article(bare, URL, 1, now=NOW, list_date=listed, feed_date=MAY6)
    assert (item.published_at, item.date_source) == (listed, "list")
    item = extract_article(bare, URL, 1, now=NOW, feed_date=MAY6)
    assert (item.published_at, item.date_source) == (MAY6, "feed")
    page = _page(info="发布时间：2024-05-06")
    assert extract_article(page, URL, 1, now=NOW, list_date=listed).date_source == "label"


@pytest.mark.parametrize(
    ("page", "source"),
    [
        (_page(info="发布时间：2024-05-06"), "label"),
        (_page(head='<meta name="PubDate" content="2024-05-06">'), "meta"),
        (_page(info="<span class='pubdate'>2024-05-06</span>"), "label"),
    ],
)
def test_the_feed_date_never_beats_a_date_on_the_page(page: str, source: str) -> None:
    feed_date = datetime(2024, 5, 20, 3, 0, tzinfo=UTC)
    item = extract_article(page, PLAIN_URL, 1, now=NOW, feed_date=feed_date)
    assert (item.published_at, item.date_source) == (MAY6, source)
    bare = "<html><body><h1>关于做好防汛工作的通知</h1><p>各单位：现将有关事项通知如下。</p></body></html>"
    item = extract_article(bare, PLAIN_URL, 1, now=NOW, feed_date=feed_date)
    assert (item.published_at, item.date_source, item.date_flag) == (feed_date, "feed", None)


def test_future_dates_are_clamped_to_now_and_flagged() -> None:
    item = extract_article(_page(info="发布时间：2025-03-01 10:00"), PLAIN_URL, 1, now=NOW)
    assert (item.published_at, item.date_source, item.date_flag) == (NOW, "label", "future_clamped")
    bare = "<html><body><h1>关于做好防汛工作的通知</h1><p>各单位：现将有关事项通知如下。</p></body></html>"
    item = extract_article(bare, PLAIN_URL, 1, now=NOW, list_date=datetime(2026, 1, 1, tzinfo=UTC))
    assert (item.published_at, item.date_source, item.date_flag) == (NOW, "list", "future_clamped")


def test_naive_dates_follow_the_configured_zone() -> None:
    item = extract_article(_page(info="发布时间：2024-05-06 08:00"), PLAIN_URL, 1, zone="UTC", now=NOW)
    assert item.published_at == datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


VIDEO_BODY = """<p>市运动会开幕式精彩回顾，请观看视频。</p>
<video src="/media/open.mp4" controls></video>
<video controls><source src="media/close.webm" type="video/webm"></video>
<iframe src="//player.bilibili.com/player.html?bvid=BV1xx"></iframe>
<iframe src="https://v.qq.com/txp/iframe/player.html?vid=abc"></iframe>
<iframe src="https://ads.example.com/banner.html"></iframe>
<iframe src="https://map.example.com/embed?x=1"></iframe>"""


def test_video_embeds_are_listed_as_absolute_urls_and_not_kept_as_iframes() -> None:
    item = extract_article(_page(body=VIDEO_BODY), PLAIN_URL, 1, now=NOW)
    assert item.videos == [
        "http://jd.example.cn/media/open.mp4",
        "http://jd.example.cn/news/media/close.webm",
        "http://player.bilibili.com/player.html?bvid=BV1xx",  # protocol-relative: the page's scheme
        "https://v.qq.com/txp/iframe/player.html?vid=abc",
    ]
    assert "<iframe" not in sanitize_html(item.html, PLAIN_URL)


@pytest.mark.parametrize(
    ("info", "origin", "author"),
    [
        ("来源：区委组织部　作者：张三", "区委组织部", "张三"),
        ("【信息来源】某某区人民政府  【作者】李四  【字号：大 中 小】", "某某区人民政府", "李四"),
        ("文章来源: 新华社 2024-05-06 浏览次数：12", "新华社", None),
        ("发布时间：2024-05-06 09:30 | 来源：街道办 | 作者：王五 | 点击：30", "街道办", "王五"),
        ("来源：某某区融媒体中心 记者 赵六 通讯员 钱七", "某某区融媒体中心", None),
    ],
)
def test_origin_and_author_lines(info: str, origin: str, author: str | None) -> None:
    item = extract_article(_page(info=info), PLAIN_URL, 1, now=NOW)
    assert item.origin == origin
    assert item.author == author


def test_summary_prefers_a_real_description() -> None:
    described = _page(head='<meta name="description" content="街道部署今年汛期防汛工作，明确责任分工。">')
    assert (
        extract_article(described, PLAIN_URL, 1, now=NOW).summary
        == "街道部署今年汛期防汛工作，明确责任分工。"
    )
    generic = _page(head='<meta name="description" content="欢迎访问某某街道官方网站，这里有最新资讯。">')
    assert extract_article(generic, PLAIN_URL, 1, now=NOW).summary.startswith("各单位")


@pytest.mark.parametrize(
    "title",
    [
        "关于做好防汛工作的通知 - 某某街道",
        "关于做好防汛工作的通知_某某街道",
        "关于做好防汛工作的通知|某某街道",
        "关于做好防汛工作的通知 | 某某街道",
        "关于做好防汛工作的通知——某某街道",
    ],
)
def test_every_common_site_suffix_is_stripped(title: str) -> None:
    assert strip_site_suffix(title) == "关于做好防汛工作的通知"
