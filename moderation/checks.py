"""Link and quality checks of an item (docs/architecture.md step 6).

Links: targets outside the allow-list (the unit's own site always allowed) and URL shorteners, which
hide where a link goes. Quality: an empty or very short body, mojibake (text decoded with the wrong
charset). Each check returns findings; moderation.screen turns them into hits.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from urllib.parse import urlsplit

LINK_EXTERNAL, LINK_SHORTENER = "link_external", "link_shortener"
QUALITY_EMPTY, QUALITY_SHORT, QUALITY_MOJIBAKE = "quality_empty", "quality_short", "quality_mojibake"
SEVERITY = {
    LINK_EXTERNAL: 1,
    LINK_SHORTENER: 3,
    QUALITY_EMPTY: 2,
    QUALITY_SHORT: 1,
    QUALITY_MOJIBAKE: 2,
}

_HREF = re.compile(r"""\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
# Chinese bytes read as Latin-1 / cp1252: letters with accents and C1 controls, rare in real Chinese
# text (· × ° ± § are common there and are left out).
_LATIN1_MOJIBAKE = re.compile("[\u0080-\u009f\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")
# "锟斤拷" is what U+FFFD turns into after a UTF-8 → GBK round trip; "烫烫烫" and "屯屯屯" are
# uninitialized memory printed as GBK.
_GARBAGE_MARKERS = ("锟斤拷", "烫烫烫", "屯屯屯")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by a check: category, what was found, and where (link index or 0)."""

    category: str
    term: str
    position: int = 0

    @property
    def severity(self) -> int:
        """How serious this kind of problem is."""
        return SEVERITY[self.category]


def html_links(fragment: str) -> list[str]:
    """The link and embed targets of a (sanitized) HTML fragment, in document order."""
    return [html.unescape(a or b).strip() for a, b in _HREF.findall(fragment)]


def _host_in(host: str, domains: Iterable[str]) -> bool:
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def check_links(
    links: Iterable[str],
    allowed_domains: Iterable[str],
    own_hosts: Iterable[str],
    shorteners: Iterable[str],
) -> list[Finding]:
    """Links to a URL shortener, or to a host outside the allow-list and the unit's own hosts.

    Relative links and non-web schemes (mailto:, tel:) point nowhere new and are not findings.
    """
    allowed = [domain.lower().lstrip(".") for domain in [*allowed_domains, *own_hosts] if domain]
    short = [domain.lower() for domain in shorteners]
    findings: list[Finding] = []
    for position, link in enumerate(links):
        parts = urlsplit(link)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https", "") or not host:
            continue
        if _host_in(host, short):
            findings.append(Finding(LINK_SHORTENER, link, position))
        elif not _host_in(host, allowed):
            findings.append(Finding(LINK_EXTERNAL, link, position))
    return findings


def check_body(text: str, min_chars: int) -> list[Finding]:
    """An empty body, or one shorter than ``min_chars`` characters (whitespace not counted)."""
    if min_chars > 0 and len(text) >= min_chars:
        # Usually the first few characters already settle it: no copy of the whole text.
        visible = (ch for ch in text if not ch.isspace())
        if sum(1 for _ in islice(visible, min_chars)) == min_chars:
            return []
    length = len("".join(text.split()))
    if length == 0:
        return [Finding(QUALITY_EMPTY, "")]
    if length < min_chars:
        return [Finding(QUALITY_SHORT, f"{length} < {min_chars}")]
    return []


def check_mojibake(text: str, max_share: float) -> list[Finding]:
    """Text that looks wrongly decoded: replacement characters, Latin-1 read Chinese, GBK garbage."""
    if not text:
        return []
    replacement = text.count("\ufffd")
    if replacement and replacement / len(text) > max_share:
        return [Finding(QUALITY_MOJIBAKE, f"{replacement} U+FFFD")]
    for marker in _GARBAGE_MARKERS:
        if marker in text:
            return [Finding(QUALITY_MOJIBAKE, marker)]
    latin = len(_LATIN1_MOJIBAKE.findall(text))
    if latin >= 8:
        non_ascii = len(_NON_ASCII.findall(text))
        if latin / non_ascii > 0.3:
            return [Finding(QUALITY_MOJIBAKE, f"{latin} Latin-1 letters of {non_ascii} non-ASCII")]
    return []
