"""Chinese publication dates: formats, labels, URLs, full-width digits, Asia/Shanghai → UTC."""

from __future__ import annotations

import random
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from crawlers.dates import (
    FLAG_FUTURE,
    clamp_future,
    date_from_url,
    find_labelled_date,
    normalize_text,
    parse_date,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024年05月06日", utc(2024, 5, 5, 16, 0)),
        ("2024年5月6日 09:30", utc(2024, 5, 6, 1, 30)),
        ("2024年5月6日 9时30分", utc(2024, 5, 6, 1, 30)),
        ("2024-05-06 09:30:00", utc(2024, 5, 6, 1, 30)),
        ("2024/5/6", utc(2024, 5, 5, 16, 0)),
        ("2024.05.06", utc(2024, 5, 5, 16, 0)),
        ("２０２４－０５－０６　０９：３０", utc(2024, 5, 6, 1, 30)),
        ("2024-05-06T09:30:00+00:00", utc(2024, 5, 6, 9, 30)),
        ("2024-05-06T09:30:00Z", utc(2024, 5, 6, 9, 30)),
        ("Mon, 06 May 2024 09:30:00 +0800", utc(2024, 5, 6, 1, 30)),
    ],
)
def test_formats(text: str, expected: datetime) -> None:
    assert parse_date(text, "Asia/Shanghai", NOW) == expected


@pytest.mark.parametrize(
    "text",
    ["2024-13-01", "2024年2月30日", "1970-01-01", "2030-01-01", "no date here", ""],
)
def test_impossible_or_far_future_dates_are_rejected(text: str) -> None:
    assert parse_date(text, "Asia/Shanghai", NOW) is None


@pytest.mark.parametrize(
    "text",
    [
        "标题 发布时间：2024年05月06日 09:30 来源：区政府",
        "发布日期:2024-05-06 09:30",
        "【发布日期】2024.05.06 09:30",
        "浏览次数：12 日期：2024/05/06 09:30",
        "时间： 2024-05-06 09:30",
    ],
)
def test_labelled_dates(text: str) -> None:
    value = find_labelled_date(text, "Asia/Shanghai", NOW)
    assert value is not None and value.date().isoformat() == "2024-05-06"


def test_label_takes_the_labelled_date_not_an_earlier_one() -> None:
    text = "2020-01-01 专题 | 发布时间：2024-05-06 10:00"
    assert find_labelled_date(text, "Asia/Shanghai", NOW) == utc(2024, 5, 6, 2, 0)


@pytest.mark.parametrize(
    "url",
    [
        "http://a.gov.cn/news/2024/05/06/123.html",
        "http://a.gov.cn/news/2024-05-06/123.html",
        "http://a.gov.cn/xxgk/202405/t20240506_123.html",
        "http://a.gov.cn/art/202405/06/art_1.html",
    ],
)
def test_dates_in_urls(url: str) -> None:
    assert date_from_url(url, "Asia/Shanghai", NOW) == utc(2024, 5, 5, 16, 0)


def test_urls_without_dates() -> None:
    assert date_from_url("http://a.gov.cn/news/12345678.html", "Asia/Shanghai", NOW) is None
    assert date_from_url("http://a.gov.cn/art/2024/13/45/x.html", "Asia/Shanghai", NOW) is None


def test_zone_setting_is_honoured() -> None:
    assert parse_date("2024-05-06 09:30", "UTC", NOW) == utc(2024, 5, 6, 9, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("二〇二三年五月六日", utc(2023, 5, 5, 16, 0)),
        ("二零二三年五月六日", utc(2023, 5, 5, 16, 0)),
        ("二○二三年十二月三十一日", utc(2023, 12, 30, 16, 0)),
        ("二〇二三年十月二十日", utc(2023, 10, 19, 16, 0)),
        ("２０２３年５月６日", utc(2023, 5, 5, 16, 0)),
        ("2023 年 5 月 6 日 09:30", utc(2023, 5, 6, 1, 30)),
        ("2023_05_06", utc(2023, 5, 5, 16, 0)),
        ("2023 - 05 - 06", utc(2023, 5, 5, 16, 0)),
        ("2023-05/06", utc(2023, 5, 5, 16, 0)),
    ],
)
def test_chinese_numerals_and_any_separator(text: str, expected: datetime) -> None:
    assert parse_date(text, "Asia/Shanghai", NOW) == expected


def test_broken_chinese_numerals_do_not_parse() -> None:
    assert parse_date("二〇二三年十三月六日", "Asia/Shanghai", NOW) is None
    assert parse_date("二〇二三年五月四十日", "Asia/Shanghai", NOW) is None


@pytest.mark.parametrize(
    "text",
    [
        "【发布日期】二〇二四年五月六日",
        "发布时间 2024-05-06",
        "发布日期：20240506",
        "日期：２０２４年０５月０６日",
    ],
)
def test_more_labelled_forms(text: str) -> None:
    value = find_labelled_date(text, "Asia/Shanghai", NOW)
    assert value == utc(2024, 5, 5, 16, 0)


def test_future_dates_are_kept_on_request_and_clamped_with_a_flag() -> None:
    future = parse_date("2030-01-01", "Asia/Shanghai", NOW, keep_future=True)
    assert future == utc(2029, 12, 31, 16, 0)
    assert clamp_future(future, NOW) == (NOW, FLAG_FUTURE)
    assert clamp_future(NOW + timedelta(minutes=1), NOW) == (NOW, None)  # clock skew: no flag
    assert clamp_future(utc(2024, 5, 6), NOW) == (utc(2024, 5, 6), None)


def test_normalize_text_equals_nfkc_on_mixed_text() -> None:
    # normalize_text normalizes only the runs between NFKC-stable characters; the result must be
    # exactly NFKC, including combining marks after a stable letter and Hangul jamo.
    rng = random.Random(3)
    pools = [
        "abcXYZ 019:-/.\n",
        "发布时间日期年月一二三〇",
        "０１２３４５６７８９：－／．（）【】，。　\xa0",
        "\u0301\u0323\u0300\u1100\u1161\u11a8가①Ⅱ²ﬁ\uf900︰﹕",
    ]
    for _ in range(3000):
        text = "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 16)))
        assert normalize_text(text) == unicodedata.normalize("NFKC", text)
    assert normalize_text("发布时间：２０２４年０５月０６日") == "发布时间:2024年05月06日"
