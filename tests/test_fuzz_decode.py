"""Fuzzing the HTML decoder (crawlers/decode.py) and the feed decoder (crawlers/feeddecode.py).

Crawled bytes and the charset labels that come with them are untrusted: a page may declare any
label, in the header or a <meta>, and hold any bytes.
"""

from __future__ import annotations

import codecs

from hypothesis import example, given
from hypothesis import strategies as st

from crawlers.decode import charset_from_content_type, decode_html, meta_charset, normalize_charset
from crawlers.feeddecode import FeedEncodingError, decode_feed
from tests.fuzzing import fuzz

# Labels seen in the wild, aliases, UTF-16/32 without a byte order, and Python codecs that are not
# text encodings (rot13, base64, zlib) or that raise on decoding (idna, punycode, undefined).
LABELS = st.sampled_from(
    [
        "utf-8", "UTF8", "gbk", "GB2312", "gb18030", "x-gbk", "big5", "shift_jis", "euc-kr", "latin-1",
        "iso-8859-1", "windows-1252", "ascii", "utf-16", "utf-16-be", "utf-32", "utf-7", "utf-8-sig",
        "rot13", "base64", "hex", "zlib", "bz2", "quopri", "uu", "idna", "punycode", "undefined",
        "unicode_escape", "raw_unicode_escape", "mbcs", "no-such-charset", "", " ", "\"gbk\"", "'utf-8'",
    ]
)  # fmt: skip
ANY_LABEL = st.one_of(st.none(), LABELS, st.text(max_size=20))
HTML_BYTES = st.one_of(
    st.binary(max_size=2000),
    # A <meta charset> with a random label, in front of random bytes.
    st.builds(
        lambda label, tail: b'<html><head><meta charset="' + label.encode("ascii") + b'">' + tail,
        st.one_of(LABELS.filter(str.isascii), st.from_regex(r"[a-zA-Z0-9_\-:.]{1,16}", fullmatch=True)),
        st.binary(max_size=500),
    ),
    st.builds(
        lambda mark, tail: mark + tail,
        st.sampled_from([m for m in dir(codecs) if m.startswith("BOM")]).map(
            lambda name: getattr(codecs, name)
        ),
        st.binary(max_size=500),
    ),
)
CHINESE = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=80)
# Text the decoder must give back: anything but U+FFFD, which it reads as a sign of a wrong charset.
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\ufffd"), max_size=200)


@fuzz()
@given(HTML_BYTES, ANY_LABEL)
@example(b"<meta\x00charset=punycode", None)  # punycode raised UnicodeError (fixed)
@example(b"<p>\xe6\x96\x87</p>", "\x00")  # a NUL in the label made codecs.lookup raise (fixed)
def test_decode_html_never_raises_and_returns_text(body: bytes, label: str | None) -> None:
    """Any bytes with any declared label decode to a str, with a real codec named and a known clue."""
    page = decode_html(body, label)
    assert isinstance(page.text, str)
    codecs.lookup(page.encoding)
    assert page.how in {"header", "bom", "meta", "detected", "fallback"}


@fuzz()
@given(TEXT.filter(lambda text: not text.isascii()), LABELS)
@example("\x80", "latin-1")  # went to detection and came back as "聙" (fixed)
def test_valid_utf8_survives_any_non_utf16_label(text: str, label: str) -> None:
    """Non-ASCII bytes that are valid UTF-8 decode as UTF-8 whatever a non-UTF label claims.

    (A UTF-16/32 label without a BOM is obeyed when the bytes decode under it: that is what the
    header says and two-byte text cannot be told from UTF-8 bytes by validity alone.)"""
    normalized = normalize_charset(label) or ""
    if normalized.startswith(("utf-16", "utf-32", "utf-7")) or text.startswith("\ufeff"):
        return
    assert decode_html(text.encode("utf-8"), label).text == text


@fuzz()
@given(CHINESE, st.sampled_from(["gbk", "GB2312", "gb18030", "x-gbk", "cp936", None]))
def test_gbk_pages_decode_to_their_text(text: str, label: str | None) -> None:
    """GB18030 bytes declared as GB2312/GBK/GB18030 (header or meta) give back the text, unless
    the bytes also happen to be valid UTF-8 (documented: valid UTF-8 wins over a non-UTF label)."""
    page = f'<html><head><meta charset="{label or "gbk"}"><title>{text}</title></head></html>'
    body = page.encode("gb18030")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return
    assert decode_html(body, label).text == page


@fuzz()
@given(st.one_of(st.none(), st.text(max_size=80), st.binary(max_size=80)))
def test_content_type_charset_never_raises(value: str | bytes | None) -> None:
    """Any Content-Type header value gives a charset label or None."""
    result = charset_from_content_type(value)
    assert result is None or isinstance(result, str)


@fuzz()
@given(st.binary(max_size=600), ANY_LABEL)
def test_meta_and_label_helpers_never_raise(body: bytes, label: str | None) -> None:
    """meta_charset reads any bytes; normalize_charset maps any label to a codec name or None."""
    found = meta_charset(body)
    assert found is None or isinstance(found, str)
    name = normalize_charset(label)
    if name is not None:
        codecs.lookup(name)


@fuzz()
@given(HTML_BYTES, st.one_of(st.none(), LABELS.map(lambda label: f"application/rss+xml; charset={label}")))
def test_decode_feed_gives_utf8_or_a_clear_error(body: bytes, content_type: str | None) -> None:
    """Any feed bytes decode to valid UTF-8 bytes, or fail with FeedEncodingError (nothing else)."""
    try:
        decoded = decode_feed(body, content_type)
    except FeedEncodingError:
        return
    decoded.data.decode("utf-8")
    codecs.lookup(decoded.encoding)
