"""Characters XML 1.0 cannot hold, and crawled items without them.

``NOT_XML``: all of C0 but tab, newline and carriage return, and the noncharacters U+FFFE and U+FFFF.
lxml parses them but refuses to write them back into a tree (a page of just "\\ufffe" made the
extractor raise; a JSON Feed entry with "\\u0001" and a <base> tag made the feed reader raise).
PostgreSQL refuses a NUL in text, and what the hub republishes (feeds, sitemaps) is XML: ingest
drops them from every crawled string (``storable``). Lone surrogates are handled where text is
sanitized (hub/sanitize.py).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from hub.rawitem import Attachment, RawItem

NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The body HTML too: the sanitizer (nh3) keeps control characters other than NUL.
_STRING_FIELDS = ("url", "title", "html", "text", "guid", "summary", "author", "origin", "category")


def _clean(value: str) -> str:
    return NOT_XML.sub("", value)


def storable(raw: RawItem) -> RawItem:
    """``raw`` without NOT_XML characters in its strings: ``raw`` itself when it has none (the usual
    case costs one search per field), else a cleaned copy."""
    changes: dict[str, Any] = {  # field name -> cleaned value (str or list)
        name: _clean(value)
        for name in _STRING_FIELDS
        if (value := getattr(raw, name)) and NOT_XML.search(value)
    }
    if any(NOT_XML.search(a.name) or NOT_XML.search(a.url) for a in raw.attachments):
        changes["attachments"] = [Attachment(_clean(a.name), _clean(a.url)) for a in raw.attachments]
    for name in ("images", "videos"):
        urls: list[str] = getattr(raw, name)
        if any(NOT_XML.search(url) for url in urls):
            changes[name] = [_clean(url) for url in urls]
    return replace(raw, **changes) if changes else raw
