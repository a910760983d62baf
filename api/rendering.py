"""Template set-up and rendering: autoescaped Jinja2, filters bound to this app's settings."""

from __future__ import annotations

import calendar
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from api.deps import get_templates, get_translator
from hub.secreturl import has_secret, masked_url
from hub.timeutil import to_zone

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def http_url(value: str | None) -> str:
    """``value`` if it is an http(s) URL, else ''; crawled links must not smuggle javascript: into hrefs."""
    if not value:
        return ""
    return value if urlsplit(value.strip()).scheme.lower() in ("http", "https") else ""


def public_url(value: str | None) -> str:
    """``value`` for a public page: an http(s) URL without a credential in it (hub/secreturl.py), else ''.
    A source read behind ``?token=`` is named on the unit's page, not linked."""
    url = http_url(value)
    return "" if not url or has_secret(url) else url


def month_end(month: str) -> str:
    """The last day of a "YYYY-MM" month as "YYYY-MM-DD" (facet links filter a whole month)."""
    year, number = (int(part) for part in month.split("-"))
    return f"{month}-{calendar.monthrange(year, number)[1]:02d}"


def make_templates(timezone: str) -> Jinja2Templates:
    """The portal templates, with filters that show times in ``timezone``."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    # Templates ship with the code and change only with a restart: no stat() of every file per render.
    templates.env.auto_reload = False

    def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return to_zone(value, timezone).strftime(fmt) if value is not None else ""

    def isotime(value: datetime | None) -> str:
        return to_zone(value, timezone).isoformat() if value is not None else ""

    @pass_context
    def url_for(context: dict[str, Any], name: str, /, **params: Any) -> str:
        # Root-relative links (Starlette's default is absolute): right behind any proxy or host name.
        request: Request = context["request"]
        return request.scope.get("root_path", "") + str(request.app.url_path_for(name, **params))

    templates.env.globals["url_for"] = url_for
    templates.env.filters["localtime"] = localtime
    templates.env.filters["isotime"] = isotime
    templates.env.filters["http_url"] = http_url
    templates.env.filters["masked_url"] = masked_url
    templates.env.filters["public_url"] = public_url
    templates.env.filters["month_end"] = month_end
    return templates


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render template ``name`` with the translator and language of this request."""
    translator = get_translator(request)
    switched = request.url.include_query_params(lang=translator.other_language)
    full = {
        "t": translator,
        "lang": translator.language,
        "search_query": "",
        # Relative, so the link works behind any proxy.
        "switch_language_url": f"{switched.path}?{switched.query}",
        **context,
    }
    return get_templates(request).TemplateResponse(request, name, full, status_code=status_code)
