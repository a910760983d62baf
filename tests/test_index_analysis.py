"""The analysis shared by both backends: tokens, the query language and snippets."""

from __future__ import annotations

from index.analysis import (
    VECTORIZE_FROM,
    Term,
    cjk_chars,
    index_text,
    index_texts,
    parse_query,
    token_strings,
    token_text,
    tokenize,
)
from index.snippet import make_snippet


def test_chinese_becomes_overlapping_bigrams_and_words_are_normalized() -> None:
    assert token_text("加强党建工作") == "加强 强党 党建 建工 工作"
    assert token_text("ＷｉＦｉ６覆盖 2024年") == "wifi6 覆盖 2024 年"
    assert token_text("党") == "党"
    assert cjk_chars("党建", "建设") == ["党", "建", "设"]


def test_token_offsets_point_into_the_original_text() -> None:
    text = "推进ＷｉＦｉ建设"
    spans = [text[token.start : token.end] for token in tokenize(text)]
    assert spans == ["推进", "ＷｉＦｉ", "建设"]


def test_query_language() -> None:
    parsed = parse_query('党建 "public wifi" -通知 规划 OR 建设 党')
    assert parsed.must == [
        [Term(("党建",))],
        [Term(("public", "wifi"))],
        [Term(("规划",)), Term(("建设",))],
        [Term(("党",))],
    ]
    assert parsed.must_not == [Term(("通知",))]
    assert parsed.must[-1][0].char == "党"
    assert parse_query("  ，。 ").is_empty
    assert parse_query('"未闭合 引号').must == [[Term(("未闭", "闭合", "引号"))]]


def test_snippet_window_marks_and_escapes() -> None:
    text = "前言" * 40 + "<b>加强党建</b>工作"
    snippet = make_snippet(text, parse_query("党建"))
    assert snippet.startswith("…")
    assert "&lt;b&gt;加强<mark>党建</mark>&lt;/b&gt;" in snippet
    assert make_snippet("没有匹配", parse_query("党建")) == "没有匹配"
    assert "<mark>党</mark>员" in make_snippet("党员服务", parse_query("党"))


TRICKY = [
    "11月19日上午，云川市召开会议",
    "iPhone手机・平板",  # a word run that swallows CJK characters, then a CJK-class non-word character
    "a中・文",
    "ｶﾞ半角…全角，标点",  # NFKC changes the length: characters are normalized one by one
    "马克・吐温 ＡＢＣ１２３ 한국어 텍스트 𠀀𠀁x",
    "中文_abc a_b İstanbul ﬁ ①② ㈱",
    "",
]


def test_indexing_tokens_equal_the_offset_tokenizer() -> None:
    # token_strings/index_text take a faster path than tokenize; both backends must see the same tokens.
    for text in TRICKY:
        assert token_strings(text) == [token.text for token in tokenize(text)], text
        analysed = index_text(text, text[::-1])
        assert analysed.title_tokens == token_text(text)
        assert analysed.body_tokens == token_text(text[::-1])
        assert analysed.chars == cjk_chars(text, text[::-1])
    assert token_text("a中・文") == "a 中 ・文"


def test_batched_indexing_equals_one_by_one() -> None:
    # index_texts tokenizes a batch with numpy (index/vectorized.py); texts it cannot decide go by regex.
    pairs = [(text, text[::-1] * n) for n in range(1, 4) for text in TRICKY]
    pairs += [(f"标题{n}", f"第{n}段：加强党建工作，ＷｉＦｉ６覆盖{n * 7}个社区。" * n) for n in range(20)]
    assert len(pairs) >= VECTORIZE_FROM
    assert index_texts(pairs) == [index_text(title, text) for title, text in pairs]
