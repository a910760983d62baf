"""Widgets any site can embed: the latest notices of a unit (± its subtree), or of every unit.

- ``/widgets/latest?unit=&subtree=1&limit=5&theme=light|dark&accent=%23c00&lang=zh|en``: an HTML page for
  an iframe. No script; its CSP allows only its own style (by hash) and framing by any site.
- ``/widgets/latest.js?<same>``: a script that renders the same list into the embedding page, building
  DOM nodes with textContent from ``/widgets/latest.json`` (served with ``Access-Control-Allow-Origin: *``).

Every answer is cacheable (strong ETag, Last-Modified, public max-age) and answers 304 when current.
The language is the ``lang`` parameter or the portal's default, never a visitor's cookie: a cached
widget must be the same for everyone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from api.deps import SessionDep, SettingsDep, TemplatesDep
from api.feeds import widget
from api.feeds.conditional import Validators, conditional_response
from api.feeds.query import UnknownFeed
from api.feeds.widget import ACCENT_PATTERN, DEFAULT_ACCENT, DEFAULT_LIMIT, WidgetData, WidgetParams
from api.i18n import Translator, normalize_language

router = APIRouter(tags=["widgets"])
SCRIPT_FILE = Path(__file__).resolve().parent.parent / "static" / "widget.js"
MAX_LIMIT = 100  # the configured feeds.widget_max_items lowers it


def widget_params(
    settings: SettingsDep,
    unit: Annotated[str, Query(max_length=64, description="Unit slug; empty: every unit.")] = "",
    subtree: Annotated[bool, Query(description="Include the units below (default).")] = True,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Notices shown.")] = DEFAULT_LIMIT,
    theme: Annotated[str, Query(pattern="^(light|dark)$", description="light or dark.")] = "light",
    accent: Annotated[str, Query(pattern=ACCENT_PATTERN, description="Accent colour, #rgb or #rrggbb.")] = (
        DEFAULT_ACCENT
    ),
    lang: Annotated[str, Query(pattern="^(zh|en|zh-CN)$", description="zh or en.")] = "",
) -> WidgetParams:
    """The widget's parameters; anything outside the allowed values is a 422."""
    if limit > settings.feeds.widget_max_items:
        raise HTTPException(status_code=422, detail=f"limit is at most {settings.feeds.widget_max_items}")
    language = {"en": "en", "zh": "zh", "zh-CN": "zh"}.get(lang, "")
    return WidgetParams(unit.strip(), subtree, limit, theme, accent, language)


ParamsDep = Annotated[WidgetParams, Depends(widget_params)]


def _translator(params: WidgetParams, default: str) -> Translator:
    return Translator(normalize_language(params.lang) or default)


def _load(
    session: SessionDep, settings: SettingsDep, params: WidgetParams, translator: Translator
) -> WidgetData:
    try:
        return widget.load(session, params, settings.web.base_url, translator)
    except UnknownFeed:
        raise HTTPException(status_code=404) from None


@router.get("/widgets/latest", name="widget_latest")
def widget_page(
    request: Request, session: SessionDep, settings: SettingsDep, templates: TemplatesDep, params: ParamsDep
) -> Response:
    """The iframe widget: a short list of links, styled by theme and accent, framable by any site."""
    translator = _translator(params, settings.web.language)
    data = _load(session, settings, params, translator)
    css = widget.style_sheet(params.theme, params.accent)

    def build() -> Response:
        context = {
            "t": translator,
            "data": data,
            "css": css,
            "base_url": settings.web.base_url.rstrip("/"),
            "show_unit": not params.unit or params.subtree,
        }
        return templates.TemplateResponse(request, "widgets/latest.html", context)

    return conditional_response(
        request.headers,
        widget.validators(data, params, "html", translator.language),
        settings.feeds.max_age_s,
        build,
        {"Content-Security-Policy": widget.frame_policy(css)},
    )


@router.get("/widgets/latest.json", name="widget_latest_json")
def widget_data(request: Request, session: SessionDep, settings: SettingsDep, params: ParamsDep) -> Response:
    """The widget's notices as JSON for the script snippet; any site may read it (CORS *)."""
    translator = _translator(params, settings.web.language)
    data = _load(session, settings, params, translator)
    body = widget.as_json(data, settings.web.base_url, settings.timezone, translator)
    return conditional_response(
        request.headers,
        widget.validators(data, params, "json", translator.language),
        settings.feeds.max_age_s,
        lambda: Response(json.dumps(body, ensure_ascii=False), media_type="application/json"),
        {"Access-Control-Allow-Origin": "*"},
    )


@router.get("/widgets/latest.js", name="widget_latest_js")
def widget_script(request: Request, settings: SettingsDep) -> Response:
    """The script snippet (the same file whatever the parameters: it reads them from its own URL)."""
    script = SCRIPT_FILE.read_bytes()
    return conditional_response(
        request.headers,
        Validators(f'"{hashlib.sha256(script).hexdigest()[:32]}"', None),
        settings.feeds.max_age_s,
        lambda: Response(script, media_type="text/javascript; charset=utf-8"),
        {"Access-Control-Allow-Origin": "*"},
    )
