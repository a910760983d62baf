"""One parse per page: the tree, compiled selectors, paragraph text; extraction and list reading on it."""

from __future__ import annotations

from crawlers.extract import extract_article
from crawlers.htmltree import paragraph_text, parse_document, select
from crawlers.listpage import ListPage, list_entries, next_page, read_list_page
from tests.test_extract import LIST


def test_paragraph_text_has_one_line_per_block_and_skips_comments() -> None:
    root = parse_document(
        "<html><body><div id='a'>头部<p>第一段\u3000文字</p>段后<!-- 注释 -->尾巴<br>换行"
        "<ul><li>一</li><li> 二 </li></ul></div><p>另一块</p></body></html>"
    )
    assert root is not None
    block = root.get_element_by_id("a")
    assert paragraph_text(block) == "头部\n第一段 文字\n段后尾巴\n换行\n一\n二"
    assert paragraph_text(root).endswith("二\n另一块")


def test_a_page_with_an_xml_declaration_parses() -> None:
    page = '<?xml version="1.0" encoding="utf-8"?><html><body><h1>关于做好防汛工作的通知</h1></body></html>'
    assert parse_document(page) is not None
    assert extract_article(page, "http://x.cn/a.html", 1).title == "关于做好防汛工作的通知"
    assert parse_document("") is None and parse_document("  ") is None


def test_selectors_css_xpath_and_invalid_ones() -> None:
    root = parse_document("<html><body><ul class='list'><li><a href='a.html'>甲</a></li></ul></body></html>")
    assert root is not None
    assert [a.text for a in select(root, "ul.list a")] == ["甲"]
    assert [a.text for a in select(root, "//ul[@class='list']//a")] == ["甲"]
    assert select(root, "string(//a)") == []  # an XPath that yields no elements
    for bad in ("a:hover", "ul[[", "//a[", "(//a"):
        assert select(root, bad) == []
    assert select(root, None) == [] and select(root, "") == []


def test_links_follow_the_base_href_and_only_the_body_is_rewritten() -> None:
    page = """<html><head><base href="http://cdn.example.cn/site/"></head><body>
    <div class="nav"><a href="/other.html">首页</a></div>
    <div class="text"><p>各单位：现将做好今年防汛工作的有关事项通知如下，请认真贯彻落实。</p>
    <p><img src="img/a.png"> <a href="files/plan.pdf">方案.pdf</a> <a href="#top">顶部</a></p></div>
    </body></html>"""
    item = extract_article(page, "http://www.example.cn/news/1.html", 1)
    assert item.images == ["http://cdn.example.cn/site/img/a.png"]
    assert [a.url for a in item.attachments] == ["http://cdn.example.cn/site/files/plan.pdf"]
    assert 'href="http://cdn.example.cn/site/files/plan.pdf"' in item.html
    assert 'src="http://cdn.example.cn/site/img/a.png"' in item.html


def test_a_relative_base_href_is_applied_once() -> None:
    page = """<html><head><base href="../res/"></head><body><div class="text">
    <p>各单位：现将做好今年防汛工作的有关事项通知如下，请认真贯彻落实。<img src="a.png"></p>
    <p><a href="plan.pdf">方案.pdf</a> <a href="http://[broken/x.html">坏链接</a></p></div></body></html>"""
    item = extract_article(page, "http://www.example.cn/news/2024/1.html", 1)
    assert item.images == ["http://www.example.cn/news/res/a.png"]
    assert [a.url for a in item.attachments] == ["http://www.example.cn/news/res/plan.pdf"]
    assert 'src="http://www.example.cn/news/res/a.png"' in item.html
    assert 'href="http://[broken/x.html"' in item.html


def test_attachments_outside_the_body_block_are_found_and_absolute() -> None:
    page = """<html><body><div class="text">
    <p>各单位：现将做好今年防汛工作的有关事项通知如下，请认真贯彻落实。</p></div>
    <div class="files"><a href="../up/%E6%96%B9%E6%A1%88.DOCX?v=2">方案</a>
    <a href="x.pdf.html">不是附件</a></div></body></html>"""
    item = extract_article(page, "http://www.example.cn/news/1.html", 1)
    assert [(a.name, a.url) for a in item.attachments] == [
        ("方案", "http://www.example.cn/up/%E6%96%B9%E6%A1%88.DOCX?v=2")
    ]


def test_a_page_without_a_main_block_falls_back_to_trafilatura() -> None:
    page = (
        "<html><head><title>某某通知_某站</title></head><body>"
        "<span>各单位：现将有关事项通知如下，请认真贯彻落实。入汛以来降雨偏多。</span><br>"
        "<span>第二段文字内容比较长一些，用于测试。</span></body></html>"
    )
    item = extract_article(page, "http://x.cn/a/1.html", 1)
    assert "现将有关事项通知如下" in item.text and "第二段文字" in item.text
    assert "现将有关事项通知如下" in item.html


def test_read_list_page_gives_entries_and_next_link_from_one_parse() -> None:
    base = "http://www.example.gov.cn/xwzx/"
    page = read_list_page(LIST, base, None, "Asia/Shanghai")
    assert page.entries == list_entries(LIST, base, None, "Asia/Shanghai")
    assert [e.url for e in page.entries][-1] == base + "202404/t20240420_3.html"
    assert page.next_url == next_page(LIST, base, None) == base + "index_1.html"
    selectors = {"item": "ul.list li", "link": "a", "date": "span", "next": "div.page a"}
    assert read_list_page(LIST, base, selectors, "Asia/Shanghai").next_url == base + "index_1.html"
    assert read_list_page("", base, None, "Asia/Shanghai") == ListPage([], None)
