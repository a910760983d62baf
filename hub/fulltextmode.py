"""A feed source's full-text option (issue 3): fetch an entry's linked page for its full text.

"auto" (the default) fetches it when the feed carries only a short summary (crawlers/feeds.py
FULL_TEXT_MIN_CHARS); "always" for feeds whose bodies are long but cut or poor; "never" for sites
whose pages say no more than the feed, or should not be fetched. Like the GUID policy it lives with
the source's selectors (``selectors["full_text"]``), so registry files carry it as they carry those.
Account sources never fetch pages: their bridge links to the platform, and their text is in the feed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

FullTextMode = Literal["auto", "always", "never"]
FULL_TEXT_MODES: tuple[str, ...] = ("auto", "always", "never")
FULL_TEXT_KEY = "full_text"


def full_text_mode(selectors: Mapping[str, Any] | None) -> FullTextMode:
    """A source's full-text option from its selectors: auto (default), always or never."""
    value = str((selectors or {}).get(FULL_TEXT_KEY) or "auto").strip().lower()
    if value not in FULL_TEXT_MODES:
        raise ValueError(f"unknown full_text option {value!r}; use one of {', '.join(FULL_TEXT_MODES)}")
    return value  # type: ignore[return-value]
