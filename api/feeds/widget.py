"""What a widget shows and how it looks: "latest notices of unit X (± its subtree)", or of everyone.

The parameters are validated where they enter (routes/widgets.py) and kept here in canonical form: they
name the widget's URL, its ETag and its style sheet. The style sheet is built only from a fixed palette
and a validated hex colour, so the iframe page can allow exactly it by hash in its CSP.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy.orm import Session

from api import content
from api.feeds.conditional import Validators, strong_etag
from api.feeds.query import UnknownFeed, unit_items
from api.i18n import Translator
from hub.models import Item, Unit
from hub.timeutil import to_zone

ACCENT_PATTERN = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
THEMES = ("light", "dark")
DEFAULT_ACCENT = "#c00"
DEFAULT_LIMIT = 5
WIDGET_VERSION = 1  # bump when the page or the data change shape
_PALETTES = {
    "light": {"bg": "#fff", "fg": "#222", "muted": "#666", "line": "#e4e4e4"},
    "dark": {"bg": "#1d1f21", "fg": "#eee", "muted": "#aaa", "line": "#3a3d40"},
}


@dataclass(frozen=True, slots=True)
class WidgetParams:
    """A widget's validated parameters (unit slug, '' for every unit)."""

    unit: str = ""
    subtree: bool = True
    limit: int = DEFAULT_LIMIT
    theme: str = "light"
    accent: str = DEFAULT_ACCENT
    lang: str = ""  # "zh" or "en"; '' for the portal's default

    def query_string(self) -> str:
        """URL query of these parameters, defaults left out (the same widget has one URL)."""
        pairs = [
            ("unit", self.unit),
            ("subtree", "" if self.subtree else "0"),
            ("limit", "" if self.limit == DEFAULT_LIMIT else str(self.limit)),
            ("theme", "" if self.theme == "light" else self.theme),
            ("accent", "" if self.accent.lower() == DEFAULT_ACCENT else self.accent.lower()),
            ("lang", self.lang),
        ]
        return urlencode([(key, value) for key, value in pairs if value])


@dataclass(frozen=True, slots=True)
class WidgetData:
    """The notices a widget shows and where "more" leads."""

    title: str
    more_url: str
    items: list[Item]
    unit: Unit | None


def load(session: Session, params: WidgetParams, base_url: str, translator: Translator) -> WidgetData:
    """The newest approved notices of the widget; raises UnknownFeed for a unit that does not exist."""
    base = base_url.rstrip("/")
    if not params.unit:
        return WidgetData(
            translator("widget_latest"), f"{base}/", content.latest_approved(session, params.limit), None
        )
    unit = content.unit_by_slug(session, params.unit)
    if unit is None:
        raise UnknownFeed(params.unit)
    items = unit_items(session, unit, params.subtree, params.limit)
    title = translator("widget_frame_title", unit=unit.name)
    return WidgetData(title, f"{base}/units/{quote(unit.slug, safe='')}", items, unit)


def validators(data: WidgetData, params: WidgetParams, kind: str, language: str) -> Validators:
    """Strong ETag over the widget's kind, parameters, language and every item shown."""
    parts: list[object] = [WIDGET_VERSION, kind, params.query_string(), language, data.title]
    parts += [f"{item.id}.{item.version}" for item in data.items]
    changed = [item.reviewed_at or item.updated_at for item in data.items]
    return Validators(strong_etag(parts), max((c for c in changed if c is not None), default=None))


def as_json(data: WidgetData, base_url: str, zone: str, translator: Translator) -> dict[str, Any]:
    """The widget's data for the script snippet: plain strings only (the script sets them as text)."""
    base = base_url.rstrip("/")
    return {
        "title": data.title,
        "more_url": data.more_url,
        "more_label": translator("widget_more"),
        "lang": translator.html_lang,
        "items": [
            {
                "id": item.id,
                "title": item.title,
                "url": f"{base}/items/{item.id}",
                "date": _day(item.published_at or item.first_seen_at, zone),
                "unit": item.unit.name,
            }
            for item in data.items
        ],
    }


def _day(value: datetime, zone: str) -> str:
    return to_zone(value, zone).strftime("%Y-%m-%d")


def style_sheet(theme: str, accent: str) -> str:
    """The iframe page's CSS: a fixed palette and the validated ``accent`` (nothing a request can inject)."""
    p = _PALETTES[theme]
    return (
        f"body{{margin:0;font:14px/1.5 system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
        f"background:{p['bg']};color:{p['fg']}}}"
        f"h2{{font-size:15px;margin:0;padding:8px 12px;border-bottom:2px solid {accent}}}"
        f"h2 a{{color:inherit;text-decoration:none}}"
        f"ul{{list-style:none;margin:0;padding:0 12px}}"
        f"li{{display:flex;gap:8px;justify-content:space-between;padding:6px 0;"
        f"border-bottom:1px solid {p['line']}}}"
        f"li a{{color:{p['fg']};text-decoration:none;overflow:hidden;text-overflow:ellipsis;"
        "white-space:nowrap}"
        f"li a:hover,li a:focus{{color:{accent};text-decoration:underline}}"
        f"time,.unit{{color:{p['muted']};font-size:12px;white-space:nowrap}}"
        f".more{{display:block;padding:6px 12px;color:{accent};font-size:13px}}"
        f".empty{{padding:6px 12px;color:{p['muted']}}}"
    )


def csp_hash(css: str) -> str:
    """The CSP source allowing exactly the ``<style>`` element holding ``css``."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def frame_policy(css: str) -> str:
    """Content-Security-Policy of the iframe page: no script at all, only its own style, framable anywhere."""
    return (
        f"default-src 'none'; style-src {csp_hash(css)}; img-src 'none'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors *"
    )
