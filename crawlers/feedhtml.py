"""The HTML of a feed entry → absolute-URL HTML, plain text, attachments and images (step 4).

One lxml parse and one walk over the elements per entry: links are made absolute in that walk only
where they are relative (feeds usually carry absolute URLs), attachments and images are collected
in the same walk, and the HTML is serialized once. ``lxml.html``'s helpers (fragment_fromstring,
make_links_absolute, iterlinks) cost ~5x more on the short fragments feeds carry.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree
from lxml.html.defs import link_attrs

from crawlers.extract import ATTACHMENT_EXTENSIONS, URL_CONTROLS
from hub.rawitem import Attachment
from hub.xmlchars import NOT_XML

# Absolute URLs urljoin returns unchanged: lower-case scheme, a host (no IPv6 literal: urljoin
# checks it), no dot segments, no empty query or fragment at the end.
_ABSOLUTE = re.compile(r"^[a-z][a-z0-9+.\-]*://[^/?#\[\]]")
# A fragment that is a whole document is parsed as one, not wrapped in another.
_FULL_DOCUMENT = re.compile(r"^\s*<(?:html|!doctype)", re.IGNORECASE)
# The link attributes of a fragment (lxml.html's list), collected by one compiled XPath in C.
_LINK_ATTRIBUTES = etree.XPath(
    "//@*[contains(' %s ', concat(' ', name(), ' '))]" % " ".join(sorted(link_attrs))  # noqa: UP031
)
_MARKUP = re.compile(r"[<&\x00-\x08\x0b-\x1f]")


def _lines(text: str) -> str:
    """Non-blank lines, stripped (map/filter: one strip per line, in C)."""
    return "\n".join(filter(None, map(str.strip, text.splitlines())))


def _body(fragment: str) -> etree._Element | None:
    document = fragment if _FULL_DOCUMENT.match(fragment) else f"<html><body>{fragment}</body></html>"
    # lxml's default HTML parser: a fresh parser object costs as much again as the parse.
    root = etree.HTML(document)
    if root is None:
        return None
    return root.find("body")


def _base_href(body: etree._Element, base_url: str) -> str:
    """A <base href> in the fragment wins over the entry's URL, as in browsers; the tag is dropped."""
    for base in list(body.iter("base")):
        href = (base.get("href") or "").strip()
        if href:
            base_url = absolute_url(href, base_url)
        _drop(base)
    return base_url


def _drop(element: etree._Element) -> None:
    """Remove ``element`` but keep the text that followed it."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def fragment_text(fragment: str) -> str:
    """The plain text of an HTML fragment, one stripped line per line (what summaries need)."""
    if not fragment.strip():
        return ""
    if not _MARKUP.search(fragment):  # plain text: nothing for a parser to change
        return _lines(fragment)
    return html_parts(fragment, "")[1]


def plain_absolute(url: str) -> bool:
    """True when ``urljoin(anything, url)`` is ``url`` itself (so the join can be skipped)."""
    return _ABSOLUTE.match(url) is not None and "/." not in url and url[-1] not in "?#"


def absolute_url(value: str, base_url: str) -> str:
    """``urljoin(base_url, value.strip())``, without its cost when the URL is already absolute.

    Control characters are dropped first: browsers ignore them in URLs (" &#14; javascript:" is a
    javascript: link to them) and lxml refuses to write them back into an attribute, which would lose
    the whole feed. The sanitizer then judges the scheme of what is left."""
    link = URL_CONTROLS.sub("", value).strip()
    if plain_absolute(link):
        return link
    try:
        return urljoin(base_url, link)
    except ValueError:  # "http://[broken": left as it is, like lxml's handle_failures="ignore"
        return link


def _path(href: str) -> str:
    try:
        return unquote(urlsplit(href).path).lower()
    except ValueError:  # not a URL at all
        return ""


def _make_links_absolute(body: etree._Element, base_url: str) -> None:
    """Relative link attributes made absolute; absolute ones (the usual case in feeds) left as they are."""
    if body.find(".//base") is not None:  # (str.lower() on CJK text costs more than this search)
        base_url = _base_href(body, base_url)
    for value in _LINK_ATTRIBUTES(body):
        absolute = absolute_url(value, base_url)
        if absolute != value:
            value.getparent().set(value.attrname, absolute)


def html_parts(fragment: str, base_url: str) -> tuple[str, str, list[Attachment], list[str]]:
    """Absolute-URL HTML, plain text, attachments and images of a feed entry's content."""
    try:
        return _html_parts(fragment, base_url)
    except ValueError:
        # lxml parses control characters (a JSON Feed may carry any) but refuses to write them back
        # (a <base> tag's tail joined to its neighbour, a rewritten href). Rare, so the fragment is
        # cleaned only then, as crawlers/extract.py does for pages.
        cleaned = NOT_XML.sub("", fragment)
        if cleaned == fragment:
            raise
        return _html_parts(cleaned, base_url)


def _html_parts(fragment: str, base_url: str) -> tuple[str, str, list[Attachment], list[str]]:
    if not fragment.strip():
        return "", "", [], []
    body = _body(fragment)
    if body is None:
        return fragment, fragment, [], []
    if body.text is not None and not body.text.strip():
        body.text = None  # whitespace before the first element is not content
    if base_url:
        _make_links_absolute(body, base_url)
    images = {src: None for img in body.iter("img") if (src := img.get("src"))}
    found: dict[str, Attachment] = {}
    for anchor in body.iter("a"):
        href = (anchor.get("href") or "").strip()
        path = _path(href)
        if href and path.endswith(ATTACHMENT_EXTENSIONS) and href not in found:
            name = " ".join("".join(anchor.itertext()).split()) or anchor.get("title")
            found[href] = Attachment(name=name or path.rsplit("/", 1)[-1], url=href)
    serialized = etree.tostring(body, method="html", encoding="unicode", with_tail=False)
    html = serialized[serialized.index(">") + 1 : serialized.rindex("</body>")]
    text = _lines(etree.tostring(body, method="text", encoding="unicode", with_tail=False))
    return html, text, list(found.values()), list(images)
