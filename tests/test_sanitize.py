"""Sanitizer: crawled HTML is reduced to safe markup with absolute links."""

from __future__ import annotations

from hub.sanitize import html_to_text, sanitize_html

BASE = "http://127.0.0.1:8700/sites/d01/news/2024/a.html"


def test_scripts_styles_and_iframes_are_removed_with_their_content() -> None:
    html = (
        "<p>正文</p><script>alert('x')</script><style>p{color:red}</style>"
        "<iframe src='http://evil.example/'>frame text</iframe><noscript>ns</noscript>"
    )
    cleaned = sanitize_html(html, BASE)
    assert cleaned == "<p>正文</p>"


def test_event_handlers_and_dangerous_urls_are_dropped() -> None:
    html = (
        '<img src="x.png" onerror="alert(1)">'
        '<a href="javascript:alert(1)" onclick="steal()">click</a>'
        '<img src="data:image/png;base64,AAAA">'
        '<p style="position:fixed" class="x" id="y">t</p>'
    )
    cleaned = sanitize_html(html, BASE)
    for bad in ("onerror", "onclick", "javascript:", "data:", "style=", "class=", "id="):
        assert bad not in cleaned
    assert "click" in cleaned


def test_relative_urls_become_absolute_and_links_nofollow() -> None:
    html = (
        '<a href="../files/通知.pdf">附件</a><img src="/img/1.jpg" alt="图"><a href="//cdn.example/x">c</a>'
    )
    cleaned = sanitize_html(html, BASE)
    assert 'href="http://127.0.0.1:8700/sites/d01/news/files/' in cleaned
    assert 'src="http://127.0.0.1:8700/img/1.jpg"' in cleaned
    assert 'href="http://cdn.example/x"' in cleaned
    assert cleaned.count('rel="noopener nofollow"') == 2


def test_tables_and_text_structure_survive() -> None:
    html = "<table><tr><td colspan='2'>名单</td></tr></table><h2>标题</h2><ul><li>一</li></ul>"
    cleaned = sanitize_html(html, BASE)
    assert '<td colspan="2">名单</td>' in cleaned and "<h2>标题</h2>" in cleaned


def test_html_to_text_keeps_paragraphs_on_lines() -> None:
    text = html_to_text("<p>第一段　内容</p><p>第二段<br>续行</p><script>x()</script>")
    assert text == "第一段 内容\n第二段\n续行"


def test_empty_input() -> None:
    assert sanitize_html("  ", BASE) == "" and html_to_text("") == ""
