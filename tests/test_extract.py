"""Article extraction: title without site suffix, body, 来源/作者, attachments and images absolute, dates."""

from __future__ import annotations

from datetime import UTC, datetime

from crawlers.extract import extract_article, strip_site_suffix
from crawlers.listpage import list_entries, next_page

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
