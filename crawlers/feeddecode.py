"""Feed bytes → UTF-8 XML bytes (docs/architecture.md step 4).

Clues are tried in order: HTTP charset → BOM → the XML declaration's ``encoding`` → detection
(charset-normalizer). GB2312/GBK are read as GB18030, and a clue that is wrong (strict decoding fails)
is skipped, so a GBK feed labelled "utf-8" still decodes. Both feed parsers (the lxml fast path and
feedparser) then read the same UTF-8 bytes, with the declaration rewritten to say so.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from crawlers.decode import charset_from_content_type, normalize_charset

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DECLARATION = re.compile(rb"""^<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:\-]+)["']""")
_DECLARATION_ENCODING = re.compile(rb"""(^<\?xml[^>]*?\bencoding\s*=\s*["'])([A-Za-z0-9._:\-]+)(["'])""")
# Single-byte charsets decode any byte string, so "it decoded" proves nothing for them.
_PERMISSIVE = frozenset({"latin-1", "iso8859-1", "cp1252", "ascii"})


class FeedEncodingError(ValueError):
    """No clue and no detection yields text from these bytes."""


@dataclass(slots=True, frozen=True)
class DecodedFeed:
    """The feed as UTF-8 bytes (declaration says utf-8), the codec it was read with, and the clue used."""

    data: bytes
    encoding: str
    how: str  # header, bom, declaration, detected


def declared_encoding(body: bytes) -> str | None:
    """The ``encoding`` of the XML declaration, if the document starts with one."""
    match = _DECLARATION.match(body[:200])
    return match.group(1).decode("ascii") if match else None


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeError, LookupError):  # UnicodeError: some codecs raise it, not UnicodeDecodeError
        return None


def _with_utf8_declaration(data: bytes) -> bytes:
    if not data.startswith(b"<?xml"):
        return data
    return _DECLARATION_ENCODING.sub(rb"\1utf-8\3", data[:200], count=1) + data[200:]


def _as_utf8(text: str) -> bytes:
    return _with_utf8_declaration(text.lstrip("\ufeff").encode("utf-8"))


def decode_feed(body: bytes, content_type: str | None = None) -> DecodedFeed:
    """Decode a feed document; raises FeedEncodingError when nothing reads it."""
    bom = next(((encoding, len(mark)) for mark, encoding in _BOMS if body.startswith(mark)), None)
    payload = body[bom[1] :] if bom else body
    clues = [
        ("header", normalize_charset(charset_from_content_type(content_type))),
        ("bom", bom[0] if bom else None),
        ("declaration", normalize_charset(declared_encoding(payload))),
    ]
    if bom is not None and bom[0] != "utf-8":  # UTF-16/32: the mark is proof enough
        text = _strict(payload, bom[0])
        if text is None:
            raise FeedEncodingError(f"feed bytes are not the {bom[0]} their byte order mark says")
        return DecodedFeed(_as_utf8(text), bom[0], "bom")
    if payload.isascii():  # escaped or English feeds: every ASCII-compatible label agrees
        return DecodedFeed(_with_utf8_declaration(payload), "ascii", "detected")
    utf8 = _strict(payload, "utf-8")
    for how, encoding in clues:
        if encoding is None or encoding in _PERMISSIVE:
            continue
        # Valid UTF-8 outside ASCII is practically never another charset, while GB18030 happily
        # decodes UTF-8 bytes into mojibake: a non-UTF label loses to valid UTF-8.
        if utf8 is not None and not encoding.startswith("utf"):
            return DecodedFeed(_as_utf8(utf8), "utf-8", "detected")
        if encoding == "utf-8" and utf8 is not None:  # already UTF-8: keep the bytes
            return DecodedFeed(_with_utf8_declaration(payload), "utf-8", how)
        text = _strict(payload, encoding)
        if text is not None:
            return DecodedFeed(_as_utf8(text), encoding, how)
    if utf8 is not None:
        return DecodedFeed(_as_utf8(utf8), "utf-8", "detected")
    best = from_bytes(payload).best()
    detected = normalize_charset(best.encoding) if best is not None else None
    text = _strict(payload, detected) if detected else None
    if text is None or detected is None:
        raise FeedEncodingError("feed bytes fit no declared or detected charset")
    return DecodedFeed(_as_utf8(text), detected, "detected")
