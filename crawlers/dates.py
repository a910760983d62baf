"""Chinese publication dates (docs/architecture.md step 4).

Parses "2024年5月6日 09:30", "2024-05-06 09:30:00", "2024/5/6", "2024.05.06", "2024_5_6", full-width
digits, Chinese numerals ("二〇二三年五月六日", "二零二三年十二月三十一日"), labelled forms ("发布时间：",
"【发布日期】") and dates in URLs (/2024/05/06/, t20240506_). Naive times are in the configured zone
(``settings.timezone``); every result is aware UTC. ``date_source`` records where a date was found:
selector, label, meta, list, feed, url or first_seen. A date in the future is clamped to now and
flagged (``clamp_future``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from hub.timeutil import as_utc, utcnow

EARLIEST_YEAR = 1990
# parse_date's callers that cannot flag (list pages, feeds) drop dates beyond this skew.
FUTURE_TOLERANCE = timedelta(days=2)
# A date this little ahead is clock skew between us and the site: clamped, but not flagged.
CLAMP_SKEW = timedelta(minutes=5)
FLAG_FUTURE = "future_clamped"
DATE_SOURCES = ("selector", "label", "meta", "list", "feed", "url", "first_seen")

_TIME = r"(?:\s*[T\s]\s*(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2}))?)?"
_ZONE = r"\s*(Z|[+-]\d{2}:?\d{2})?"
_CHINESE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?" + _TIME)
# "Any separator": - / . _ and spaced variants; mixed separators ("2024-05/06") are seen too.
_NUMERIC = re.compile(r"(?<!\d)(\d{4})\s*[-/._]\s*(\d{1,2})\s*[-/._]\s*(\d{1,2})(?!\d)" + _TIME + _ZONE)
_COMPACT = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")  # 20240506, only right after a label
_LABEL = re.compile(
    r"(?:【\s*)?(?:发布时间|发布日期|发文日期|成文日期|更新时间|发表时间|日期|时间)\s*(?:】|:|\s)\s*",
)
_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "O": 0, "o": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUM = "〇○零Oo一二两三四五六七八九十0-9"
_CN_DATE = re.compile(
    rf"([{_CN_NUM}]{{4}})\s*年\s*([{_CN_NUM}]{{1,3}})\s*月\s*([{_CN_NUM}]{{1,3}})\s*([日号])"
)
# Printable ASCII, newline and CJK unified ideographs are NFKC-stable: unchanged by NFKC and never
# composed with a neighbour, so a text can be normalized piece by piece between them. Each run of
# other characters is normalized together with the stable character before it (a base letter may
# take a following combining mark).
_STABLE = "\n\x20-\x7e\u4e00-\u9fff"
_UNSTABLE_RUN = re.compile(f"[{_STABLE}]?[^{_STABLE}]+")
_URL_PATTERNS = (
    re.compile(r"/(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:/|\.|_|-)"),
    re.compile(r"/(\d{4})(\d{2})/(\d{2})/"),
    re.compile(r"[/_t](\d{4})(\d{2})(\d{2})[_/.-]"),
)


@dataclass(slots=True, frozen=True)
class FoundDate:
    """A publication date (aware UTC), where it came from, and a flag (e.g. future_clamped) or None."""

    value: datetime | None
    source: str
    flag: str | None = None


def _cn_number(text: str) -> int | None:
    """ "五" → 5, "十二" → 12, "二十六" → 26, "2〇2三" → 2023 (digit by digit when there is no 十)."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        high = _CN_DIGITS.get(tens, None) if tens else 1
        low = _CN_DIGITS.get(ones, None) if ones else 0
        if high is None or low is None:
            return None
        return high * 10 + low
    value = 0
    for char in text:
        digit = int(char) if char.isdecimal() else _CN_DIGITS.get(char)  # isdigit: '²' too
        if digit is None:
            return None
        value = value * 10 + digit
    return value


def _arabic_dates(text: str) -> str:
    """Rewrite Chinese-numeral dates ("二〇二三年五月六日") as "2023年5月6日"."""

    def rewrite(match: re.Match[str]) -> str:
        numbers = [_cn_number(part) for part in match.groups()[:3]]
        if any(number is None for number in numbers):
            return match.group(0)
        year, month, day = numbers
        return f"{year}年{month}月{day}{match.group(4)}"

    return _CN_DATE.sub(rewrite, text)


def _nfkc(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group())


def normalize_text(text: str) -> str:
    """Full-width digits and punctuation to ASCII (NFKC), so "２０２４－０５－０６" parses like 2024-05-06.

    Same result as ``unicodedata.normalize("NFKC", text)``, about five times faster on Chinese pages:
    only the runs between stable characters are normalized (see _UNSTABLE_RUN)."""
    if text.isascii():
        return text
    return _UNSTABLE_RUN.sub(_nfkc, text)


def _build(
    parts: list[str | None], zone: str, now: datetime, tz: str | None = None, keep_future: bool = False
) -> datetime | None:
    year, month, day, hour, minute, second = (int(p) if p else 0 for p in parts)
    try:
        naive = datetime(year, month, day, hour, minute, second)
        if tz:
            offset = "+00:00" if tz == "Z" else tz if ":" in tz else f"{tz[:3]}:{tz[3:]}"
            value = as_utc(datetime.fromisoformat(naive.isoformat() + offset), zone)
        else:
            value = as_utc(naive, zone)
    except (ValueError, OverflowError):  # no such day, an offset of ±24 h or more, UTC beyond year 9999
        return None
    return plausible(value, now, keep_future)


def plausible(value: datetime, now: datetime | None = None, keep_future: bool = False) -> datetime | None:
    """``value`` if it is a believable publication date (not before 1990; not far in the future
    unless ``keep_future``, for callers that clamp and flag instead)."""
    now = now or utcnow()
    if value.year < EARLIEST_YEAR or (not keep_future and value > now + FUTURE_TOLERANCE):
        return None
    return value


def clamp_future(value: datetime, now: datetime | None = None) -> tuple[datetime, str | None]:
    """A date after ``now`` becomes ``now``; beyond clock skew it is also flagged ``future_clamped``."""
    now = now or utcnow()
    if value <= now:
        return value, None
    return now, FLAG_FUTURE if value > now + CLAMP_SKEW else None


def parse_date(
    text: str, zone: str = "Asia/Shanghai", now: datetime | None = None, keep_future: bool = False
) -> datetime | None:
    """The first date in ``text`` (Chinese, numeric, ISO 8601 or RFC 822 form) as aware UTC, or None."""
    if not text:
        return None
    now = now or utcnow()
    text = _arabic_dates(normalize_text(text).strip())
    match = _CHINESE.search(text)
    if match:
        return _build(list(match.groups()), zone, now, keep_future=keep_future)
    match = _NUMERIC.search(text)
    if match:
        year, month, day, hour, minute, second, tz = match.groups()
        return _build([year, month, day, hour, minute, second], zone, now, tz, keep_future)
    try:
        parsed = as_utc(parsedate_to_datetime(text), zone)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return plausible(parsed, now, keep_future)


def find_labelled_date(
    text: str,
    zone: str = "Asia/Shanghai",
    now: datetime | None = None,
    keep_future: bool = False,
    normalized: bool = False,
) -> datetime | None:
    """A date right after a label such as "发布时间：" or "【发布日期】" in page text.

    ``normalized``: ``text`` is already NFKC (normalize_text), as extraction's page text is; saves a
    pass over a long page."""
    now = now or utcnow()
    if not normalized:
        text = normalize_text(text)
    for label in _LABEL.finditer(text):
        window = text[label.end() : label.end() + 40]
        value = parse_date(window, zone, now, keep_future)
        if value is None:
            compact = _COMPACT.match(window)
            if compact:
                value = _build([*compact.groups(), None, None, None], zone, now, keep_future=keep_future)
        if value is not None:
            return value
    return None


def date_from_url(url: str, zone: str = "Asia/Shanghai", now: datetime | None = None) -> datetime | None:
    """A date embedded in a URL path (/2024/05/06/, /202405/06/, t20240506_), at midnight local time."""
    now = now or utcnow()
    for pattern in _URL_PATTERNS:
        for match in pattern.finditer(url):
            value = _build([*match.groups(), None, None, None], zone, now)
            if value is not None:
                return value
    return None
