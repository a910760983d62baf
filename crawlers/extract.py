"""Article page → RawItem (docs/architecture.md step 4).

Title without the site-name suffix, body HTML (the source's selector wins, else the block holding
the most paragraph text, else trafilatura), plain text, summary, author and 来源 lines, attachments,
images and the publication date (selector → meta tags → labelled Chinese date → URL). URLs are made
absolute here; sanitizing is ingest's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
import trafilatura
from lxml.etree import ParserError, XPathError
from lxml.html import HtmlElement

from crawlers.dates import date_from_url, find_labelled_date, normalize_text, parse_date
from hub.rawitem import Attachment, RawItem

ATTACHMENT_EXTENSIONS = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".wps", ".zip", ".rar", ".ppt", ".pptx")
SUMMARY_CHARS = 160
_TITLE_SEPARATORS = (" - ", " – ", " — ", "_", " | ", "－", "——")
_META_DATE_NAMES = (
    "article:published_time",
    "og:published_time",
    "pubdate",
    "publishdate",
    "firstpublishedtime",
    "dc.date",
    "dc.date.issued",
    "date",
)
_DATE_NODES = (
    "//time | //*[contains(@class, 'date') or contains(@class, 'time') or contains(@id, 'date')"
    " or contains(@id, 'time')]"
)
_ORIGIN = re.compile(r"(?:信息)?来源\s*[:]\s*([^\s|,，;；]{1,40})")
_AUTHOR = re.compile(r"(?:作者|撰稿|供稿)\s*[:]\s*([^\s|,，;；]{1,40})")
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


def _meta_date(root: HtmlElement, zone: str, now: datetime | None) -> datetime | None:
    for meta in root.iter("meta"):
        name = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if name in _META_DATE_NAMES:
            value = parse_date(meta.get("content") or "", zone, now)
            if value is not None:
                return value
    return None


def find_date(
    root: HtmlElement, url: str, selectors: Mapping[str, str], zone: str, now: datetime | None
) -> tuple[datetime | None, str]:
    """Publication date and its source: selector → meta → labelled text → URL → (None, first_seen)."""
    for node in select(root, selectors.get("date")):
        value = parse_date(_text(node), zone, now) or find_labelled_date(_text(node), zone, now)
        if value is not None:
            return value, "selector"
    value = _meta_date(root, zone, now)
    if value is not None:
        return value, "meta"
    body = root.find("body")
    value = find_labelled_date(_text(body if body is not None else root), zone, now)
    if value is not None:
        return value, "label"
    # Common markup: <span class="pubdate">, <div id="publish-time">, <time datetime=...>.
    for node in root.xpath(_DATE_NODES):
        text = node.get("datetime") or _text(node)
        value = parse_date(text, zone, now) if len(text) <= 60 else None
        if value is not None:
            return value, "selector"
    value = date_from_url(url, zone, now)
    if value is not None:
        return value, "url"
    return None, "first_seen"


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


def _labelled(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(normalize_text(text))
    return match.group(1) if match else None


def extract_article(
    html: str,
    url: str,
    source_id: int,
    selectors: Mapping[str, str] | None = None,
    zone: str = "Asia/Shanghai",
    now: datetime | None = None,
    site_name: str | None = None,
) -> RawItem:
    """Turn one decoded article page into a RawItem (URLs absolute, HTML not yet sanitized)."""
    selectors = selectors or {}
    try:
        root = lxml.html.document_fromstring(html)
    except ParserError:
        return RawItem(source_id=source_id, url=url, title="")
    root.make_links_absolute(url, resolve_base_href=True, handle_failures="ignore")
    title = _title(root, selectors, site_name)
    published_at, date_source = find_date(root, url, selectors, zone, now)
    page_text = _text(root.find("body") if root.find("body") is not None else root)
    _clean(root)
    body_nodes = select(root, selectors.get("body"))
    block = body_nodes[0] if body_nodes else _main_block(root)
    if block is not None:
        body_html = lxml.html.tostring(block, encoding="unicode")
        text = _paragraph_text(block)
        images = [img.get("src") for img in block.iter("img") if img.get("src")]
    else:
        body_html = trafilatura.extract(html, output_format="html", url=url, favor_recall=True) or ""
        text = trafilatura.extract(html, url=url, favor_recall=True) or ""
        images = []
    attachments = attachments_in(block if block is not None and attachments_in(block) else root)
    meta_author = root.xpath("string(//meta[@name='author']/@content)").strip()
    return RawItem(
        source_id=source_id,
        url=url,
        title=title,
        html=body_html,
        text=text,
        summary=" ".join(text.split())[:SUMMARY_CHARS],
        author=_labelled(_AUTHOR, page_text) or meta_author or None,
        origin=_labelled(_ORIGIN, page_text),
        published_at=published_at,
        date_source=date_source,
        attachments=attachments,
        images=[urljoin(url, src) for src in dict.fromkeys(images)],
    )
