"""Chinese publication dates (docs/architecture.md step 4).

Parses "2024年5月6日 09:30", "2024-05-06 09:30:00", "2024/5/6", "2024.05.06", full-width digits,
labelled forms ("发布时间：", "【发布日期】") and dates in URLs (/2024/05/06/, t20240506_).
Naive times are in the configured zone (Asia/Shanghai); every result is aware UTC, and carries
where it was found (``date_source``): feed, meta, label, selector, url or first_seen.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from hub.timeutil import as_utc, utcnow

EARLIEST_YEAR = 1990
# Sites publish in their own clock; allow a little skew but refuse dates far in the future.
FUTURE_TOLERANCE = timedelta(days=2)

_TIME = r"(?:\s*[T\s]\s*(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2}))?)?"
_ZONE = r"\s*(Z|[+-]\d{2}:?\d{2})?"
_CHINESE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?" + _TIME)
_NUMERIC = re.compile(r"(?<!\d)(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)" + _TIME + _ZONE)
_LABEL = re.compile(
    r"(?:【\s*)?(?:发布时间|发布日期|发文日期|成文日期|更新时间|日期|时间)\s*(?:】|:)\s*",
)
_URL_PATTERNS = (
    re.compile(r"/(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:/|\.|_|-)"),
    re.compile(r"/(\d{4})(\d{2})/(\d{2})/"),
    re.compile(r"[/_t](\d{4})(\d{2})(\d{2})[_/.-]"),
)


@dataclass(slots=True, frozen=True)
class FoundDate:
    """A publication date (aware UTC) and where it came from."""

    value: datetime
    source: str


def normalize_text(text: str) -> str:
    """Full-width digits and punctuation to ASCII (NFKC), so "２０２４－０５－０６" parses like 2024-05-06."""
    return unicodedata.normalize("NFKC", text)


def _build(parts: list[str | None], zone: str, now: datetime, tz: str | None = None) -> datetime | None:
    year, month, day, hour, minute, second = (int(p) if p else 0 for p in parts)
    try:
        naive = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    if tz:
        offset = "+00:00" if tz == "Z" else tz if ":" in tz else f"{tz[:3]}:{tz[3:]}"
        value = datetime.fromisoformat(naive.isoformat() + offset)
    else:
        value = naive
    return plausible(as_utc(value, zone), now)


def plausible(value: datetime, now: datetime | None = None) -> datetime | None:
    """``value`` if it is a believable publication date (not before 1990, not far in the future)."""
    now = now or utcnow()
    if value.year < EARLIEST_YEAR or value > now + FUTURE_TOLERANCE:
        return None
    return value


def parse_date(text: str, zone: str = "Asia/Shanghai", now: datetime | None = None) -> datetime | None:
    """The first date in ``text`` (Chinese, numeric, ISO 8601 or RFC 822 form) as aware UTC, or None."""
    if not text:
        return None
    now = now or utcnow()
    text = normalize_text(text).strip()
    match = _CHINESE.search(text)
    if match:
        return _build(list(match.groups()), zone, now)
    match = _NUMERIC.search(text)
    if match:
        year, _sep, month, day, hour, minute, second, tz = match.groups()
        return _build([year, month, day, hour, minute, second], zone, now, tz)
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return plausible(as_utc(parsed, zone), now)


def find_labelled_date(
    text: str, zone: str = "Asia/Shanghai", now: datetime | None = None
) -> datetime | None:
    """A date right after a label such as "发布时间：" or "【发布日期】" in page text."""
    text = normalize_text(text)
    for label in _LABEL.finditer(text):
        value = parse_date(text[label.end() : label.end() + 40], zone, now)
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
