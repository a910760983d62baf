"""Decoding HTML bytes: header → BOM → meta → detection, GB2312/GBK read as GB18030."""

from __future__ import annotations

import codecs

from crawlers.decode import charset_from_content_type, decode_html, meta_charset, normalize_charset

TITLE = "关于开展党建工作的通知"


def _page(meta: str) -> str:
    head = f"<html><head>{meta}<title>{TITLE}</title></head>"
    return head + f"<body><p>{TITLE}，请各单位认真落实。</p></body></html>"


def test_gbk_with_correct_header() -> None:
    body = _page('<meta charset="gbk">').encode("gbk")
    page = decode_html(body, "GBK")
    assert TITLE in page.text
    assert (page.encoding, page.how) == ("gb18030", "header")


def test_gbk_mislabeled_as_utf8_falls_back_to_meta() -> None:
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    body = _page(meta).encode("gbk")
    page = decode_html(body, "utf-8")
    assert TITLE in page.text
    assert (page.encoding, page.how) == ("gb18030", "meta")


def test_gbk_without_header_charset_uses_meta() -> None:
    body = _page('<meta charset="gb2312">').encode("gbk")
    page = decode_html(body, None)
    assert TITLE in page.text and page.how == "meta"


def test_gb18030_only_characters_survive() -> None:
    # "𠮷" is outside GBK; a page labelled gbk but encoded in GB18030 still decodes.
    body = _page('<meta charset="gbk">').replace("通知", "通知𠮷").encode("gb18030")
    assert "通知𠮷" in decode_html(body, "gbk").text


def test_bom_decides_without_other_clues() -> None:
    body = codecs.BOM_UTF8 + _page("").encode("utf-8")
    page = decode_html(body, None)
    assert page.text.startswith("<html>") and TITLE in page.text
    assert page.how == "bom"
    utf16 = codecs.BOM_UTF16_LE + _page("").encode("utf-16-le")
    assert TITLE in decode_html(utf16, None).text


def test_valid_utf8_wins_over_a_wrong_gbk_label() -> None:
    body = _page('<meta charset="gbk">').encode("utf-8")
    page = decode_html(body, "gbk")
    assert TITLE in page.text and page.encoding == "utf-8"


def test_detection_without_any_declaration() -> None:
    body = _page("").encode("gb18030") * 3
    page = decode_html(body, None)
    assert TITLE in page.text and page.how == "detected"


def test_helpers() -> None:
    assert normalize_charset("GB2312") == "gb18030"
    assert normalize_charset("x-gbk") == "gb18030"
    assert normalize_charset("UTF8") == "utf-8"
    assert normalize_charset("no-such-charset") is None
    assert meta_charset(b'<meta charset="utf-8">') == "utf-8"
    assert charset_from_content_type(b"text/html; charset=GBK") == "GBK"
    assert charset_from_content_type("text/html") is None
