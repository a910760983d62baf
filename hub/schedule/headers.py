"""What a response says about how often to come back, as seconds (docs/architecture.md step 3).

For the crawlers, which record these with a source's outcome (``hub/crawlrecord.py``): the
Cache-Control ``max-age`` of the source URL's answer and an RSS ``<ttl>`` (minutes).
"""

from __future__ import annotations

from hub.wholenumber import whole_number

MAX_HINT_S = 365 * 24 * 3600  # anything longer is nonsense; the schedule caps it far lower anyway


def max_age_seconds(cache_control: str | None) -> int | None:
    """``max-age`` of a Cache-Control header in seconds; 0 for no-cache/no-store; None if absent or bad."""
    if not cache_control:
        return None
    found: int | None = None
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-cache", "no-store"):
            return 0
        if name == "max-age":
            value = value.strip().strip('"')
            seconds = whole_number(value)
            if seconds is None:
                return None
            found = min(seconds, MAX_HINT_S)
    return found


def ttl_seconds(ttl: str | int | None) -> int | None:
    """An RSS ``<ttl>`` (minutes) in seconds; None if absent or not a whole number."""
    if ttl is None:
        return None
    text = str(ttl).strip()
    minutes = whole_number(text)
    if minutes is None:
        return None
    return min(minutes * 60, MAX_HINT_S)
