"""Fuzzing the article extractor (crawlers/extract.py) and the sanitizer it feeds (hub/sanitize.py).

Crawled pages are untrusted: arbitrary, truncated and hostile markup (script, event handlers,
javascript:/data: URLs, SVG, CSS expressions, broken-markup tricks) must neither crash extraction nor
survive sanitizing. The sanitized HTML is checked by parsing it (BeautifulSoup, a different parser
than the one that produced it), not by searching strings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bs4 import BeautifulSoup
from hypothesis import example, given
from hypothesis import strategies as st

from crawlers.extract import extract_article, strip_site_suffix
from hub.sanitize import ALLOWED_TAGS, SAFE_SCHEMES, html_to_text, sanitize_html
from tests.fuzzing import fuzz

NOW = datetime(2024, 6, 1, tzinfo=UTC)
BASE = "http://www.a.gov.cn/xwzx/2024/t20240506_1.html"
# Pieces of hostile and ordinary markup; a page is a random sequence of them, maybe cut anywhere.
PIECES = [
    "<script>alert(1)</script>", "<script src=//evil.example/x.js></script>", "<SCRIPT>alert(1)",
    "<scr<script>ipt>alert(1)</script>", "<img src=x onerror=alert(1)>", "<img src=\"javascript:alert(1)\">",
    "<a href=\"javascript:alert(1)\">x</a>", "<a href=\" JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"java\tscript:alert(1)\">x</a>", "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">d</a>",
    "<a href=\"vbscript:msgbox(1)\">v</a>", "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "<iframe src=javascript:alert(1)>",
    "<object data=javascript:alert(1)>", "<embed src=javascript:alert(1)>",
    "<div style=\"width: expression(alert(1))\">css</div>",
    "<style>body{background:url(javascript:x)}</style>",
    "<body onload=alert(1)>", "<form action=javascript:alert(1)><button>b</button></form>",
    "<meta http-equiv=refresh content=\"0;url=javascript:alert(1)\">", "<base href=\"javascript:/\">",
    "<p onclick=alert(1) ONMOUSEOVER=alert(2)>点击</p>", "<!--<script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<template><script>alert(1)</script></template>", "<a href=http://[::1>bad ipv6</a>",
    "<img src=\"http://[::1\">", "<a href=\"//evil.example/\">rel</a>", "<a href=\"../a/b.pdf\">附件.pdf</a>",
    "<title>关于开展工作的通知 - 区政府</title>", "<h1>关于开展工作的通知</h1>",
    "<p>发布时间：2024-05-06 来源：区政府办公室 作者：张三</p>",
    "<div class=\"content\"><p>为进一步加强社区治理工作，现将有关事项通知如下。</p>",
    "<p>一、工作目标。</p></div>",
    "<table><tr><td><p>表格里的正文段落，内容足够长以便被选为正文。</p></td></tr></table>",
    "<a href=\"/files/通知.docx\">通知.docx</a>", "<video src=\"/v.mp4\"></video>", "<base href=\"/other/\">",
    "</div></div></body></html>", "<html><head>", "<body>", "<p>", "</p>", "<", ">", "&", "&#0;", "\x00",
    "\ufeff", "\ufffe", "\ud800", "&#xD800;", "<?xml version=\"1.0\" encoding=\"gbk\"?>", "<!DOCTYPE html>",
]  # fmt: skip
PAGES = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=25).map("".join),
    st.builds(
        lambda pieces, cut: "".join(pieces)[:cut],  # truncated mid-tag, mid-entity, mid-attribute
        st.lists(st.sampled_from(PIECES), max_size=25),
        st.integers(0, 2000),
    ),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=30)), max_size=20).map("".join),
    st.text(max_size=500),
)
_URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "data", "background", "poster")


def assert_inert(html: str) -> None:
    """No element that runs script, no on* attribute, no URL outside http(s)/mailto, no style."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        assert tag.name in ALLOWED_TAGS, tag.name
        for name, value in tag.attrs.items():
            assert not name.lower().startswith("on"), (tag.name, name)
            assert name.lower() != "style", tag.name
            if name.lower() in _URL_ATTRIBUTES:
                scheme = re.match(r"\s*([a-zA-Z][a-zA-Z0-9+.\-]*):", str(value))
                assert scheme is None or scheme.group(1).lower() in SAFE_SCHEMES, (tag.name, value)
    assert "<script" not in html.lower()  # (escaped text such as "&lt;script" is harmless)


@fuzz(300)
@given(PAGES)
@example("<a href=http://[::1>bad ipv6</a>")
@example("0<SCRIPT></SCRIPT>\x1f")  # drop_tree raised ValueError on the control character (fixed)
@example(f"<div><p>{'通知正文' * 10}</p><a href='a\x1fb'>x</a></div>")  # so did rewrite_links (fixed)
@example("\ufffe")  # a noncharacter XML cannot hold: trafilatura's fallback body raised (fixed)
def test_extract_never_raises_and_sanitized_body_is_inert(html: str) -> None:
    """Any page, however broken or hostile, extracts to a RawItem whose title is one line of text,
    whose links and attachments are absolute, whose strings a store can encode, and whose body, once
    sanitized as ingest does, has no script, event handler, style or unsafe URL; its plain text never
    raises either."""
    item = extract_article(html, BASE, source_id=1, zone="Asia/Shanghai", now=NOW, site_name="区政府")
    assert isinstance(item.title, str) and "\n" not in item.title
    assert item.published_at is None or item.published_at <= NOW
    for attachment in item.attachments:
        assert attachment.url.startswith(("http://", "https://")) or "://" not in attachment.url
    for value in (item.title, item.html, item.text, item.summary, item.author, item.origin):
        (value or "").encode("utf-8")  # storable: no lone surrogate
    clean = sanitize_html(item.html or "", item.url)
    assert_inert(clean)
    assert isinstance(html_to_text(clean), str)


@fuzz(300)
@given(PAGES, st.sampled_from([BASE, "https://b.gov.cn/", "http://[::1]/x", "http://c.cn/a?b#c"]))
@example("<a href=http://[::1>bad ipv6</a>", BASE)
@example('<img src="http://[::1">', BASE)
@example("\x1b", BASE)  # html_to_text raised ValueError (fixed)
@example("<html><head>", BASE)  # html_to_text failed lxml's "too many bodies" assertion (fixed)
@example('<?xml version="1.0" encoding="gbk"?>', BASE)  # html_to_text raised ValueError (fixed)
@example('<?xml version="1.0" encoding="gbk"?>' * 2, BASE)  # the second one raised ValueError (fixed)
@example("<p>a\ud800b</p>", BASE)  # nh3 raised UnicodeEncodeError on the lone surrogate (fixed)
def test_sanitize_any_html_is_inert(html: str, base: str) -> None:
    """sanitize_html of any markup (not only what extraction keeps) is inert; html_to_text never raises."""
    clean = sanitize_html(html, base)
    assert_inert(clean)
    assert isinstance(html_to_text(html), str)
    assert isinstance(html_to_text(clean), str)


@fuzz()
@given(st.text(max_size=120), st.one_of(st.none(), st.text(max_size=20)))
def test_strip_site_suffix_only_shortens(title: str, site: str | None) -> None:
    """Stripping a site suffix never raises and never adds text: the result is a prefix of the
    whitespace-collapsed title."""
    collapsed = " ".join(title.split())
    assert collapsed.startswith(strip_site_suffix(title, site))
