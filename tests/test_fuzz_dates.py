"""Fuzzing the Chinese date parser (crawlers/dates.py) and the page date search (crawlers/pagedate.py).

Dates come from untrusted page text, meta tags, feeds and URLs, in every format sites invent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import lxml.html
from hypothesis import example, given
from hypothesis import strategies as st

from crawlers.dates import (
    CLAMP_SKEW,
    EARLIEST_YEAR,
    FLAG_FUTURE,
    FUTURE_TOLERANCE,
    clamp_future,
    date_from_url,
    find_labelled_date,
    parse_date,
)
from crawlers.pagedate import DateContext, find_date
from tests.fuzzing import fuzz

NOW = datetime(2024, 6, 1, 4, 0, tzinfo=UTC)
ZONES = st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12"])
FULL_WIDTH = str.maketrans("0123456789-/:.", "０１２３４５６７８９－／：．")
CN_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")


def _fields() -> st.SearchStrategy[tuple[int, int, int, int, int, int]]:
    # Out-of-range months, days, hours and minutes on purpose: sites print them.
    return st.tuples(
        st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99),
        st.integers(0, 99), st.integers(0, 99), st.integers(0, 99),
    )  # fmt: skip


@st.composite
def date_texts(draw: st.DrawFn) -> str:
    """A date-like string: Chinese, numeric with any separator, ISO with an offset, RFC 822, labelled,
    full-width or in Chinese numerals, with junk around it."""
    year, month, day, hour, minute, second = draw(_fields())
    sep = draw(st.sampled_from(["-", "/", ".", "_", " - ", "/ "]))
    zone = draw(st.sampled_from(["", "Z", "+08:00", "-0500", "+99:99", "+14:00", "-23:59", "+0000"]))
    form = draw(st.sampled_from(["cn", "numeric", "iso", "rfc", "compact"]))
    if form == "cn":
        text = f"{year:04d}年{month}月{day}日 {hour}:{minute:02d}"
    elif form == "numeric":
        text = f"{year:04d}{sep}{month:02d}{sep}{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
    elif form == "iso":
        text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{zone}"
    elif form == "rfc":
        weekday = draw(st.sampled_from(["Mon", "Sat", "Xyz"]))
        text = f"{weekday}, {day:02d} Jun {year:04d} {hour:02d}:{minute:02d}:{second:02d} {zone or 'GMT'}"
    else:
        text = f"{year:04d}{month:02d}{day:02d}"
    variant = draw(st.sampled_from(["plain", "full_width", "cn_numerals"]))
    if variant == "full_width":
        text = text.translate(FULL_WIDTH)
    elif variant == "cn_numerals":
        text = text.translate(CN_DIGITS)
    label = draw(st.sampled_from(["", "发布时间：", "【发布日期】", "日期 ", "时间:"]))
    return draw(st.text(max_size=10)) + label + text + draw(st.text(max_size=10))


ANY_TEXT = st.one_of(date_texts(), st.text(max_size=200))


def _sane(value: datetime | None, keep_future: bool) -> None:
    if value is None:
        return
    assert value.utcoffset() == timedelta(0), "aware UTC"
    assert value.year >= EARLIEST_YEAR
    if not keep_future:
        assert value <= NOW + FUTURE_TOLERANCE


@fuzz(400)
@given(ANY_TEXT, ZONES, st.booleans())
@example("9999-12-31 23:59:59", "America/New_York", True)
@example("0001-01-01 00:00", "Asia/Shanghai", True)
@example("2024-05-06T10:00:00+99:99", "UTC", False)
@example("Fri, 31 Dec 9999 23:00:00 -0500", "UTC", True)
def test_parse_date_never_raises_and_is_sane(text: str, zone: str, keep_future: bool) -> None:
    """Any text gives None or an aware UTC datetime not before 1990, and (unless keep_future) not
    beyond now + FUTURE_TOLERANCE. (The examples raised OverflowError or ValueError before: UTC
    beyond year 9999, an offset of ±24 h or more.)"""
    _sane(parse_date(text, zone, NOW, keep_future=keep_future), keep_future)


@fuzz()
@given(ANY_TEXT, ZONES, st.booleans(), st.booleans())
def test_labelled_dates_never_raise(text: str, zone: str, keep_future: bool, normalized: bool) -> None:
    """find_labelled_date reads any text (NFKC or not) to None or a sane date."""
    _sane(find_labelled_date(text, zone, NOW, keep_future=keep_future, normalized=normalized), keep_future)


@fuzz()
@given(
    st.one_of(
        st.text(max_size=120),
        st.builds(lambda head, value, tail: f"http://a.gov.cn/{head}/{value}{tail}", st.text(max_size=8),
                  st.integers(0, 99999999), st.sampled_from(["/", "_", ".html", "-1"])),
        st.builds(lambda fields: "/{:04d}/{}/{}/x.html".format(*fields), _fields()),
    ),
    ZONES,
)  # fmt: skip
def test_date_from_url_never_raises(url: str, zone: str) -> None:
    """Any URL gives None or a sane date (never in the future beyond the tolerance)."""
    _sane(date_from_url(url, zone, NOW), keep_future=False)


@fuzz()
@given(
    st.datetimes(timezones=st.just(UTC)), st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC))
)
def test_clamp_future_bounds_and_flags(value: datetime, now: datetime) -> None:
    """A clamped date is never after now; it is flagged exactly when it was more than CLAMP_SKEW ahead,
    and a past date is unchanged."""
    clamped, flag = clamp_future(value, now)
    assert clamped <= now
    assert (flag == FLAG_FUTURE) == (value > now + CLAMP_SKEW)
    if value <= now:
        assert clamped == value and flag is None


@fuzz()
@given(
    st.datetimes(min_value=datetime(EARLIEST_YEAR, 1, 2), max_value=datetime(2099, 12, 30)),
    st.sampled_from(
        ["{y}年{m}月{d}日 {H}:{M:02d}", "{y}-{m:02d}-{d:02d} {H:02d}:{M:02d}", "{y}/{m}/{d} {H}:{M:02d}"]
    ),
    ZONES,
)
def test_written_dates_read_back(local: datetime, form: str, zone: str) -> None:
    """A date written in a common Chinese form reads back as that wall-clock time in ``zone``
    (or None when it lies beyond the future tolerance)."""
    local = local.replace(second=0, microsecond=0)
    text = form.format(y=local.year, m=local.month, d=local.day, H=local.hour, M=local.minute)
    expected = local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    value = parse_date(text, zone, NOW)
    if expected > NOW + FUTURE_TOLERANCE:
        assert value is None
    else:
        assert value == expected


@fuzz()
@given(ANY_TEXT, ANY_TEXT, st.text(max_size=60), ZONES)
def test_page_date_is_clamped_and_named(meta: str, body: str, url_tail: str, zone: str) -> None:
    """An article page's date is never after now (future dates clamped and flagged) and always
    names where it came from."""
    html = (
        f'<html><head><meta name="PubDate" content="{meta.replace(chr(34), "")}"></head>'
        f"<body><h1>标题</h1><p>{body.replace('<', ' ')}</p></body></html>"
    )
    root = lxml.html.document_fromstring(html.replace("\x00", " ") or "<html/>")
    context = DateContext([], "标题", body, zone, now=NOW)
    found = find_date(root, f"http://a.gov.cn/{url_tail}", context)
    if found.value is None:
        assert found.source == "first_seen"
    else:
        _sane(found.value, keep_future=False)
        assert found.value <= NOW
        assert found.source in {"selector", "label", "meta", "list", "feed", "url"}
