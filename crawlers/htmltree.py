"""One lxml tree per page, and the cheap ways to read it (docs/architecture.md step 4).

List pages and article pages are parsed once each, here, and every later step (list detection,
selectors, dates, title, main content, attachments, media, link absolutizing) reads that tree.
Speed matters on this path (the crawl extracts hundreds of pages a second on two cores), so:

- the parser gives every element the plain ``HtmlElement`` class through a C-level lookup;
  lxml.html's default Python-level lookup (form and input classes we never use) cost a third of
  the time of walking a 30 KB page;
- source selectors are compiled once per process (CSS → XPath translation costs more than matching);
- the paragraph text of a subtree is produced by a small XSLT, in C: a Python walk over a portal
  page's thousands of nodes was the largest single cost of extraction.
"""

from __future__ import annotations

import re
from functools import lru_cache

import lxml.html
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector
from lxml.etree import ParserError, XPathError
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction

# Elements that start a new line of paragraph text.
BLOCK_TAGS = frozenset(
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
# lxml refuses a str that still carries an XML encoding declaration (XHTML pages); it says nothing
# once the page is decoded.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _parser() -> lxml.html.HTMLParser:
    # A new parser per page (~2 µs): lxml parsers must not be shared between threads.
    parser = lxml.html.HTMLParser()
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
        )
    )
    return parser


def parse_document(html: str) -> HtmlElement | None:
    """The page as an lxml.html tree, or None when there is nothing to parse."""
    try:
        return lxml.html.document_fromstring(_XML_DECLARATION.sub("", html, count=1), parser=_parser())
    except (ParserError, ValueError):
        return None


@lru_cache(maxsize=512)
def compiled_selector(selector: str) -> etree.XPath | None:
    """A source selector (CSS, or XPath when it starts with / or "(") compiled once per process;
    None when it is invalid. A pure cache: the same text always compiles to the same thing."""
    try:
        if selector.startswith(("/", "(")):
            return etree.XPath(selector)
        return CSSSelector(selector, translator="html")
    except (XPathError, SelectorError, ValueError, SyntaxError):
        return None


def select(root: HtmlElement, selector: str | None) -> list[HtmlElement]:
    """Elements matching a CSS selector (or an XPath starting with / or "("); a bad selector matches none."""
    compiled = compiled_selector(selector) if selector else None
    if compiled is None:
        return []
    try:
        found = compiled(root)
    except XPathError:
        return []
    return [node for node in found if isinstance(node, HtmlElement)] if isinstance(found, list) else []


@lru_cache(maxsize=1)
def _text_transform() -> etree.XSLT:
    # Block elements get a newline before and after; text nodes (tails included) are copied;
    # comments and processing instructions print nothing (XSLT's built-in templates).
    blocks = "|".join(sorted(BLOCK_TAGS))
    stylesheet = (
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:output method="text" encoding="UTF-8"/>'
        f'<xsl:template match="{blocks}"><xsl:text>&#10;</xsl:text><xsl:apply-templates/>'
        "<xsl:text>&#10;</xsl:text></xsl:template></xsl:stylesheet>"
    )
    return etree.XSLT(etree.XML(stylesheet))


def paragraph_text(node: HtmlElement) -> str:
    """Plain text of ``node`` with one line per block element, whitespace collapsed, no blank lines."""
    raw = str(_text_transform()(node))
    lines = (" ".join(line.split()) for line in raw.split("\n"))
    return "\n".join(line for line in lines if line)
