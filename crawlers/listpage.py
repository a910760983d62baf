"""List page → article links (docs/architecture.md step 4).

With the source's selectors (``item``, ``link``, ``date``, ``next``) the page is read exactly;
without them a heuristic takes repeated <li>/<tr>/<div> blocks that hold one link and a date.
``read_list_page`` parses the page once for both its entries and its next-page link.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

from crawlers.dates import normalize_text, parse_date
from crawlers.extract import ATTACHMENT_EXTENSIONS
from crawlers.htmltree import parse_document, select

_NEXT_TEXT = re.compile(r"^\s*(下一页|下页|next|›|»|>)\s*$", re.IGNORECASE)
_DATE_HINT = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}")
MIN_LINK_TEXT = 4


@dataclass(slots=True, frozen=True)
class ListEntry:
    """One article link on a list page, with the title and date shown next to it."""

    url: str
    title: str
    date: datetime | None


@dataclass(slots=True, frozen=True)
class ListPage:
    """What a list page offers: its article links in page order, and the next list page's URL."""

    entries: list[ListEntry]
    next_url: str | None


def _parse(html: str, base_url: str) -> HtmlElement | None:
    root = parse_document(html)
    if root is None:
        return None
    root.make_links_absolute(base_url, resolve_base_href=True, handle_failures="ignore")
    return root


def _is_article_link(href: str, base_url: str) -> bool:
    parts = urlsplit(href)
    path = parts.path.lower()
    return parts.scheme in ("http", "https") and not path.endswith(ATTACHMENT_EXTENSIONS) and href != base_url


def _entry(block: HtmlElement, link: HtmlElement, date_node: HtmlElement | None, zone: str) -> ListEntry:
    title = link.get("title") or " ".join(link.text_content().split())
    date_text = date_node.text_content() if date_node is not None else block.text_content()
    return ListEntry(link.get("href", ""), " ".join(title.split()), parse_date(date_text, zone))


def _with_selectors(
    root: HtmlElement, base_url: str, selectors: Mapping[str, str], zone: str
) -> list[ListEntry]:
    entries = []
    for block in select(root, selectors["item"]):
        links = select(block, selectors.get("link") or "a[href]")
        if not links or not _is_article_link(links[0].get("href", ""), base_url):
            continue
        dates = select(block, selectors["date"]) if selectors.get("date") else []
        entries.append(_entry(block, links[0], dates[0] if dates else None, zone))
    return entries


def _heuristic(root: HtmlElement, base_url: str, zone: str) -> list[ListEntry]:
    """Blocks under a common parent that each hold one article link and a date."""
    candidates: list[tuple[HtmlElement, HtmlElement]] = []
    for block in root.iter("li", "tr", "div", "dd", "p"):
        # Two links are enough to rule a block out: wrappers around a whole list are never walked.
        links = list(islice((a for a in block.iter("a") if a.get("href")), 2))
        if len(links) != 1 or not _DATE_HINT.search(normalize_text(block.text_content())):
            continue
        title = links[0].get("title") or links[0].text_content()
        if len(title.strip()) >= MIN_LINK_TEXT and _is_article_link(links[0].get("href", ""), base_url):
            candidates.append((block, links[0]))
    parents = Counter(block.getparent() for block, _ in candidates)
    if not parents:
        return []
    best_parent, count = parents.most_common(1)[0]
    if count < 2:
        return [_entry(block, link, None, zone) for block, link in candidates]
    return [_entry(block, link, None, zone) for block, link in candidates if block.getparent() is best_parent]


def read_list_page(html: str, base_url: str, selectors: Mapping[str, str] | None, zone: str) -> ListPage:
    """Entries and next-page URL of a list page, from one parse."""
    root = _parse(html, base_url)
    if root is None:
        return ListPage([], None)
    return ListPage(_entries(root, base_url, selectors or {}, zone), _next_url(root, base_url, selectors))


def list_entries(html: str, base_url: str, selectors: Mapping[str, str] | None, zone: str) -> list[ListEntry]:
    """Article links of a list page, in page order, without duplicates."""
    return read_list_page(html, base_url, selectors, zone).entries


def _entries(root: HtmlElement, base_url: str, selectors: Mapping[str, str], zone: str) -> list[ListEntry]:
    entries = _with_selectors(root, base_url, selectors, zone) if selectors.get("item") else []
    if not entries:
        entries = _heuristic(root, base_url, zone)
    unique: dict[str, ListEntry] = {}
    for entry in entries:
        unique.setdefault(entry.url, entry)
    return list(unique.values())


def next_page(html: str, base_url: str, selectors: Mapping[str, str] | None) -> str | None:
    """URL of the next list page: the ``next`` selector, rel=next, or a link reading 下一页 / next."""
    root = _parse(html, base_url)
    return _next_url(root, base_url, selectors) if root is not None else None


def _next_url(root: HtmlElement, base_url: str, selectors: Mapping[str, str] | None) -> str | None:
    selector = (selectors or {}).get("next")
    links = select(root, selector) if selector else []
    links += root.xpath("//a[@rel='next'] | //link[@rel='next']")
    links += [a for a in root.iter("a") if _NEXT_TEXT.match(a.text_content() or "")]
    for link in links:
        href = link.get("href")
        if href and urljoin(base_url, href) != base_url and not href.startswith("javascript:"):
            return str(urljoin(base_url, href))
    return None


def sitemap_urls(body: bytes) -> list[str]:
    """The <loc> URLs of a sitemap (urlset) document."""
    return [url.decode("utf-8", "replace").strip() for url in re.findall(rb"<loc>\s*([^<]+?)\s*</loc>", body)]
