"""Sanitize crawled HTML before it is stored and republished (crawled content is untrusted; step 5)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import nh3
from lxml import html as lxml_html
from lxml.etree import ParserError

from hub.xmlchars import NOT_XML

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em",
        "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol",
        "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
        "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
}
URL_ATTRIBUTES = frozenset({"href", "src"})
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed together with their content (plain tag stripping would leave script text behind).
DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "noscript", "template"})
LINK_REL = "noopener nofollow"
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u3000\xa0]+")
_XML_DECLARATION = re.compile(r"^(?:\s*<\?xml[^>]*\?>)+")  # every leading one
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# An http(s) URL that urljoin returns unchanged whatever the base (with _REBUILT and ASCII only):
# lower-case scheme, a host (no IPv6 literal), no tab or line break (urlsplit drops them), no ";" (an
# empty ;params is dropped) and no brackets.
_PLAIN_HTTP = re.compile(r"https?://[^/?#;\[\]\t\r\n][^;\[\]\t\r\n]*\Z")
# What urlsplit/urlunsplit would rewrite: dot segments, an empty query or fragment (at the end or "?#").
_REBUILT = re.compile(r"/\.|\?#|[?#]\Z")


def _absolute(base_url: str, value: str) -> str | None:
    """``value`` resolved against ``base_url``; ``None`` when the result is not a safe link."""
    link = value.strip()
    if _PLAIN_HTTP.match(link) and link.isascii() and not _REBUILT.search(link):
        return link  # what urljoin returns for it, unchanged (links in feeds are mostly absolute)
    resolved = urljoin(base_url, link)
    scheme = urlsplit(resolved).scheme.lower()
    return resolved if scheme in SAFE_SCHEMES else None


class Sanitizer:
    """``sanitize_html`` with one nh3 Cleaner for many fragments: building a cleaner costs about as much
    as a clean. Holds the current fragment's base URL, so one per thread (a batch ingest makes one)."""

    def __init__(self) -> None:
        self._base_url = ""
        self._cleaner = nh3.Cleaner(
            tags=set(ALLOWED_TAGS),
            clean_content_tags=set(DROP_WITH_CONTENT),
            attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
            attribute_filter=self._attribute,
            url_schemes=set(SAFE_SCHEMES),
            link_rel=LINK_REL,
            strip_comments=True,
        )

    def _attribute(self, tag: str, attribute: str, value: str) -> str | None:
        if attribute in URL_ATTRIBUTES:
            return _absolute(self._base_url, value)
        return value

    def clean(self, html: str, base_url: str) -> str:
        """``html`` reduced to an allow-list of tags/attributes, links absolute and marked nofollow."""
        if not html.strip():
            return ""
        self._base_url = base_url
        try:
            cleaned: str = self._cleaner.clean(html)
        except UnicodeEncodeError:  # a lone surrogate (nh3 takes UTF-8): replaced, then cleaned again
            return self.clean(_LONE_SURROGATE.sub("\ufffd", html), base_url)
        return cleaned.strip()


def sanitize_html(html: str, base_url: str) -> str:
    """``html`` reduced to an allow-list of tags/attributes, links absolute and marked nofollow."""
    return Sanitizer().clean(html, base_url)


def html_to_text(html: str) -> str:
    """Readable plain text of ``html``: one line per block, whitespace collapsed."""
    # lxml refuses to set text holding control characters, and a str with an encoding declaration;
    # it drops the rest of an element after a lone surrogate.
    html = _XML_DECLARATION.sub("", NOT_XML.sub("", html), count=1)
    html = _LONE_SURROGATE.sub("\ufffd", html)
    if not html.strip():
        return ""
    try:
        document = lxml_html.document_fromstring(html)
    except ParserError:  # nothing to parse (a lone comment or doctype)
        return ""
    # The body, as fragment_fromstring would take it; that one fails an assertion on "<html><head>".
    body = document.find("body")
    root = body if body is not None else document
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for block in root.xpath("//p|//div|//br|//li|//tr|//h1|//h2|//h3|//h4|//h5|//h6|//blockquote"):
        block.tail = "\n" + (block.tail or "")
    lines = [_SPACES.sub(" ", line).strip() for line in root.text_content().splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(line for line in lines if line)).strip()
