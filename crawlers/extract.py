"""Article page → RawItem (docs/architecture.md step 4).

Title without the site-name suffix, body HTML (the source's selector wins, else the block holding
the most paragraph text, else trafilatura), plain text, summary, author and 来源 lines, attachments,
images, video embeds and the publication date (crawlers/pagedate.py: selector → labelled Chinese
date → meta tags → list page → feed → URL). URLs are made absolute here; sanitizing is ingest's job.

Each page is parsed once, with lxml (BeautifulSoup is ~20x slower on a 30 KB page), and everything
is read from that one tree. Only the links of the chosen body block are rewritten (the rest of the
page is never republished); attachments and media are joined to the page's base URL as they are
found. trafilatura is imported only when our own main-content heuristic finds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
from lxml.etree import ParserError
from lxml.html import HtmlElement

from crawlers.dates import normalize_text
from crawlers.htmltree import paragraph_text, parse_document, select
from crawlers.media import images_in, videos_in
from crawlers.pagedate import DateContext, find_date
from hub.rawitem import Attachment, RawItem
from hub.xmlchars import NOT_XML

ATTACHMENT_EXTENSIONS = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".wps", ".zip", ".rar", ".ppt", ".pptx")
# Cheap pre-check before a link's path is split and compared with ATTACHMENT_EXTENSIONS.
_ATTACHMENT_HINT = re.compile(r"\.(?:pdf|docx?|xlsx?|wps|zip|rar|pptx?)\b", re.IGNORECASE)
SUMMARY_CHARS = 160
_TITLE_SEPARATORS = (" - ", " – ", " — ", "_", " | ", "|", "－", "——")
# 来源 / 作者 lines: "来源：区委组织部", "【信息来源】 区政府", "文章来源: 新华社 2024-05-06",
# "作者：张三 李四".
_ORIGIN = re.compile(r"(?:信息|文章|稿件|内容)?来\s?源\s*(?:】|:|\s)\s*([^|,，;；【\[<>\n]{1,60})")
_AUTHOR = re.compile(r"(?:作\s?者|撰稿|撰文|记者|通讯员|供稿)\s*(?:】|:)\s*([^|,，;；【\[<>\n]{1,60})")
# Where a captured 来源/作者 value ends: the next label, a date, or a run of spaces.
_VALUE_END = re.compile(
    r"\s{2,}|\s*(?:来源|作者|记者|通讯员|发布|时间|日期|浏览|阅读|点击|字号|字体|编辑|责任|审核|打印|分享|关闭|\d{4}\s*[-/.年])"
)
SUMMARY_MIN = 20
_BOILERPLATE = ("nav", "header", "footer", "script", "style", "noscript", "aside", "form")


def strip_site_suffix(title: str, site_name: str | None = None) -> str:
    """``"标题 - 站点名"`` / ``"标题_站点名"`` → ``"标题"``; a title without a suffix is returned as is."""
    title = " ".join(title.split())
    if site_name and title.endswith(site_name) and len(title) > len(site_name):
        head = title[: -len(site_name)].rstrip()
        for sep in _TITLE_SEPARATORS:
            if head.endswith(sep.strip()):
                return head[: -len(sep.strip())].rstrip()
        return head
    for sep in _TITLE_SEPARATORS:
        if sep in title:
            head, tail = title.rsplit(sep, 1)
            # Strip only a short tail after a real head: long tails are rarely site names.
            if len(tail.strip()) <= 30 and len(head.strip()) >= 4:
                return head.strip()
    return title


def _text(node: HtmlElement) -> str:
    return " ".join(node.text_content().split())


def _main_block(root: HtmlElement) -> HtmlElement | None:
    """The element whose own <p> children carry the most text (simple main-content heuristic)."""
    best, best_score = None, 0
    for node in root.iter("article", "div", "section", "td", "main"):
        score = sum(len(_text(p)) for p in node if p.tag == "p")
        if score > best_score:
            best, best_score = node, score
    return best if best_score >= 30 else None


def _title(root: HtmlElement, selectors: Mapping[str, str], site_name: str | None) -> str:
    for node in select(root, selectors.get("title")):
        if _text(node):
            return _text(node)
    page_title = root.findtext(".//title") or ""
    for node in root.iter("h1"):
        heading = _text(node)
        if heading and (not page_title or heading in page_title or len(heading) >= 6):
            return heading
    for node in root.xpath("//meta[@property='og:title']/@content"):
        return " ".join(str(node).split())
    return strip_site_suffix(page_title, site_name)


def attachments_in(node: HtmlElement, base_url: str | None = None) -> list[Attachment]:
    """Links to office files and archives under ``node``, deduplicated by URL.

    Hrefs are joined to ``base_url`` when given, else taken as already absolute."""
    found: dict[str, Attachment] = {}
    for link in node.iter("a"):
        href = (link.get("href") or "").strip()
        if not href or not _ATTACHMENT_HINT.search(href):
            continue
        path = unquote(urlsplit(href).path).lower()
        if not path.endswith(ATTACHMENT_EXTENSIONS):
            continue
        url = urljoin(base_url, href) if base_url else href
        if url not in found:
            name = _text(link) or link.get("title") or path.rsplit("/", 1)[-1]
            found[url] = Attachment(name=name, url=url)
    return list(found.values())


URL_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")  # never meaningful in a URL (browsers drop them)


def _joined(base_url: str, href: str) -> str:
    href = URL_CONTROLS.sub("", href)  # see crawlers/feedhtml.absolute_url: lxml refuses to write them
    try:
        return urljoin(base_url, href)
    except ValueError:  # a malformed link (e.g. a broken IPv6 host) is left as it is
        return href


def base_url_of(root: HtmlElement, url: str) -> str:
    """The URL relative links resolve against: the page's ``<base href>`` if any, else ``url``."""
    for base in root.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            return urljoin(url, href)
    return url


def _clean(root: HtmlElement) -> None:
    for node in list(root.iter(*_BOILERPLATE)):
        if node.getparent() is not None:
            node.drop_tree()


def labelled_value(pattern: re.Pattern[str], text: str) -> str | None:
    """The value of a 来源/作者 line in ``text``, cut at the next label, date or wide gap."""
    return _labelled_value(pattern, normalize_text(text))


def _labelled_value(pattern: re.Pattern[str], text: str) -> str | None:
    # ``text`` is already NFKC.
    for match in pattern.finditer(text):
        value = _VALUE_END.split(match.group(1).strip(), maxsplit=1)[0].strip(" :：")
        if value:
            return value
    return None


def _summary(root: HtmlElement, title: str, text: str) -> str:
    """The page's meta description when it says something, else the start of the text."""
    description = root.xpath("string(//meta[@name='description' or @property='og:description']/@content)")
    description = " ".join(str(description).split())
    if len(description) >= SUMMARY_MIN and description != title and description in " ".join(text.split()):
        return description[:SUMMARY_CHARS]
    if len(description) >= SUMMARY_MIN and description != title and not _looks_generic(description):
        return description[:SUMMARY_CHARS]
    return " ".join(text.split())[:SUMMARY_CHARS]


def _looks_generic(description: str) -> bool:
    # Many CMSs put the site's own blurb in every page's description.
    return any(word in description for word in ("欢迎访问", "官方网站", "门户网站", "版权所有"))


def _fallback_body(root: HtmlElement, url: str) -> tuple[str, str]:
    """Body HTML and text by trafilatura, for pages our heuristic cannot read (imported here: it
    costs ~0.2 s of start-up and most pages never need it). It works on a copy of our tree."""
    import trafilatura

    body_html = trafilatura.extract(root, output_format="html", url=url, favor_recall=True) or ""
    if not body_html:
        return "", ""
    try:
        fragment = lxml.html.fragment_fromstring(body_html, create_parent="div")
    except ParserError:
        return body_html, ""
    return body_html, paragraph_text(fragment)


def extract_article(
    html: str,
    url: str,
    source_id: int,
    selectors: Mapping[str, str] | None = None,
    zone: str = "Asia/Shanghai",
    now: datetime | None = None,
    site_name: str | None = None,
    list_date: datetime | None = None,
    feed_date: datetime | None = None,
) -> RawItem:
    """Turn one decoded article page into a RawItem (URLs absolute, HTML not yet sanitized).

    ``list_date`` / ``feed_date``: what the list page or the feed said, used when the page says nothing.
    """
    args = (url, source_id, selectors, zone, now, site_name, list_date, feed_date)
    try:
        return _extract_article(html, *args)
    except ValueError:
        # lxml parses control characters but refuses to write them back (drop_tree joining a tail,
        # rewrite_links setting an href). Rare, so the page is cleaned only then: a regex pass over
        # every page would cost a fifth of its parse.
        cleaned = NOT_XML.sub("", html)
        if cleaned == html:
            raise
        return _extract_article(cleaned, *args)


def _extract_article(
    html: str,
    url: str,
    source_id: int,
    selectors: Mapping[str, str] | None,
    zone: str,
    now: datetime | None,
    site_name: str | None,
    list_date: datetime | None,
    feed_date: datetime | None,
) -> RawItem:
    selectors = selectors or {}
    root = parse_document(html)
    if root is None:
        return RawItem(source_id=source_id, url=url, title="")
    base = base_url_of(root, url)
    title = _title(root, selectors, site_name)
    body_root = root.find("body")
    # One line per block, so a 来源/作者 value never runs into the next paragraph; NFKC once here
    # (full-width digits and colons), so the label and date searches below find it already done.
    page_text = normalize_text(paragraph_text(body_root if body_root is not None else root))
    context = DateContext(select(root, selectors.get("date")), title, page_text, zone, list_date=list_date)
    context.feed_date = feed_date
    if now is not None:
        context.now = now
    found = find_date(root, url, context)
    _clean(root)
    body_nodes = select(root, selectors.get("body"))
    block = body_nodes[0] if body_nodes else _main_block(root)
    if block is not None:
        # Only the republished block needs absolute links; rewriting the whole page cost ~30 %.
        # (rewrite_links, not make_links_absolute: that one would look for <base> again, document-wide.)
        block.rewrite_links(partial(_joined, base), resolve_base_href=False)
        body_html = lxml.html.tostring(block, encoding="unicode")
        text = paragraph_text(block)
        images = images_in(block, base)
        parent = block.getparent()
        videos = videos_in(block, base) or (videos_in(parent, base) if parent is not None else [])
        attachments = attachments_in(block, base) or attachments_in(root, base)
    else:
        body_html, text = _fallback_body(root, url)
        images, videos = [], videos_in(root, base)
        attachments = attachments_in(root, base)
    meta_author = root.xpath("string(//meta[@name='author']/@content)").strip()
    return RawItem(
        source_id=source_id,
        url=url,
        title=title,
        html=body_html,
        text=text,
        summary=_summary(root, title, text),
        author=_labelled_value(_AUTHOR, page_text) or meta_author or None,
        origin=_labelled_value(_ORIGIN, page_text),
        published_at=found.value,
        date_source=found.source,
        date_flag=found.flag,
        attachments=attachments,
        images=images,
        videos=videos,
    )
