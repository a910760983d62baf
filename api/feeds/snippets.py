"""The code a unit's webmaster pastes to show the unit's latest notices: an iframe, or a script.

Unit pages show both (``widget_snippets(unit, base_url)``). Every value in them is escaped for an HTML
attribute, so a unit name cannot break out of the snippet it is shown in.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from api.feeds.widget import DEFAULT_ACCENT, DEFAULT_LIMIT, WidgetParams
from api.i18n import Translator
from hub.models import Unit

FRAME_HEIGHT = 360
# No scripts in the frame (it has none); links open the portal in a new, unsandboxed tab.
FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"


@dataclass(frozen=True, slots=True)
class WidgetSnippets:
    """HTML to paste: the iframe widget and the script widget of the same list."""

    iframe: str
    script: str


def widget_snippets(
    unit: Unit,
    base_url: str,
    subtree: bool = True,
    limit: int = DEFAULT_LIMIT,
    theme: str = "light",
    accent: str = DEFAULT_ACCENT,
    language: str = "zh-CN",
) -> WidgetSnippets:
    """The iframe and script snippets showing the latest notices of ``unit`` (and below, by default)."""
    base = base_url.rstrip("/")
    params = WidgetParams(unit.slug, subtree, limit, theme, accent, "en" if language == "en" else "")
    query = params.query_string()
    title = Translator(language)("widget_frame_title", unit=unit.name)
    iframe = (
        f'<iframe src="{escape(f"{base}/widgets/latest?{query}")}" title="{escape(title)}"'
        f' width="100%" height="{FRAME_HEIGHT}" loading="lazy" sandbox="{FRAME_SANDBOX}"'
        # frameborder, not style="border:0": a site whose CSP forbids inline styles would refuse that.
        ' referrerpolicy="strict-origin-when-cross-origin" frameborder="0"></iframe>'
    )
    script = f'<script src="{escape(f"{base}/widgets/latest.js?{query}")}" async></script>'
    return WidgetSnippets(iframe, script)
