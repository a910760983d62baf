"""Article page → RawItem (docs/architecture.md step 4).

Title without the site-name suffix, body HTML (the source's selector wins, else the block holding
the most paragraph text, else trafilatura), plain text, summary, author and 来源 lines, attachments,
images, video embeds and the publication date (crawlers/pagedate.py: selector → labelled Chinese
date → meta tags → list page → feed → URL). URLs are made absolute here; sanitizing is ingest's job.
Parsing is lxml only: BeautifulSoup is ~20x slower on a 30 KB page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import unquote, urlsplit

import lxml.html
import trafilatura
from lxml.etree import ParserError, XPathError
from lxml.html import HtmlElement

from crawlers.dates import normalize_text
from crawlers.media import images_in, videos_in
from crawlers.pagedate import DateContext, find_date
from hub.rawitem import Attachment, RawItem

ATTACHMENT_EXTENSIONS = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".wps", ".zip", ".rar", ".ppt", ".pptx")
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
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "li",
        "tr",
        "br",
        "blockquote",
        "pre",
        "table",
    }
)
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


def select(root: HtmlElement, selector: str | None) -> list[HtmlElement]:
    """Elements matching a CSS selector (or an XPath starting with / or "("); a bad selector matches none."""
    if not selector:
        return []
    try:
        if selector.startswith(("/", "(")):
            return [node for node in root.xpath(selector) if isinstance(node, HtmlElement)]
        return list(root.cssselect(selector))
    except (XPathError, ValueError, SyntaxError):
        return []


def _text(node: HtmlElement) -> str:
    return " ".join(node.text_content().split())


def _paragraph_text(node: HtmlElement) -> str:
    """Plain text with one line per block element, so paragraphs survive."""
    parts: list[str] = []

    def walk(element: HtmlElement) -> None:
        block = element.tag in _BLOCKS
        if block:
            parts.append("\n")
        if isinstance(element.tag, str):  # comments and processing instructions carry no text
            parts.append(element.text or "")
            for child in element:
                walk(child)
                parts.append(child.tail or "")
        if block:
            parts.append("\n")

    walk(node)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


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


def attachments_in(node: HtmlElement) -> list[Attachment]:
    """Links to office files and archives under ``node`` (hrefs already absolute), deduplicated by URL."""
    found: dict[str, Attachment] = {}
    for link in node.iter("a"):
        href = (link.get("href") or "").strip()
        path = unquote(urlsplit(href).path).lower()
        if href and path.endswith(ATTACHMENT_EXTENSIONS) and href not in found:
            name = _text(link) or link.get("title") or path.rsplit("/", 1)[-1]
            found[href] = Attachment(name=name, url=href)
    return list(found.values())


def _clean(root: HtmlElement) -> None:
    for node in list(root.iter(*_BOILERPLATE)):
        if node.getparent() is not None:
            node.drop_tree()


def labelled_value(pattern: re.Pattern[str], text: str) -> str | None:
    """The value of a 来源/作者 line in ``text``, cut at the next label, date or wide gap."""
    for match in pattern.finditer(normalize_text(text)):
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
    selectors = selectors or {}
    try:
        root = lxml.html.document_fromstring(html)
    except ParserError:
        return RawItem(source_id=source_id, url=url, title="")
    root.make_links_absolute(url, resolve_base_href=True, handle_failures="ignore")
    title = _title(root, selectors, site_name)
    body_root = root.find("body")
    # One line per block, so a 来源/作者 value never runs into the next paragraph.
    page_text = _paragraph_text(body_root if body_root is not None else root)
    context = DateContext(select(root, selectors.get("date")), title, page_text, zone, list_date=list_date)
    context.feed_date = feed_date
    if now is not None:
        context.now = now
    found = find_date(root, url, context)
    _clean(root)
    body_nodes = select(root, selectors.get("body"))
    block = body_nodes[0] if body_nodes else _main_block(root)
    if block is not None:
        body_html = lxml.html.tostring(block, encoding="unicode")
        text = _paragraph_text(block)
        images = images_in(block, url)
        parent = block.getparent()
        videos = videos_in(block, url) or (videos_in(parent, url) if parent is not None else [])
    else:
        body_html = trafilatura.extract(html, output_format="html", url=url, favor_recall=True) or ""
        text = trafilatura.extract(html, url=url, favor_recall=True) or ""
        images, videos = [], videos_in(root, url)
    attachments = attachments_in(block if block is not None and attachments_in(block) else root)
    meta_author = root.xpath("string(//meta[@name='author']/@content)").strip()
    return RawItem(
        source_id=source_id,
        url=url,
        title=title,
        html=body_html,
        text=text,
        summary=_summary(root, title, text),
        author=labelled_value(_AUTHOR, page_text) or meta_author or None,
        origin=labelled_value(_ORIGIN, page_text),
        published_at=found.value,
        date_source=found.source,
        date_flag=found.flag,
        attachments=attachments,
        images=images,
        videos=videos,
    )
