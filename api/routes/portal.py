"""Public portal pages: home, search, item, unit. Only approved items ever reach these pages."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from api import content
from api.deps import BackendDep, SessionDep, SettingsDep
from api.rendering import render
from api.search import BadSearchRequest, SearchParams, SearchUnavailable, run_search, search_params
from moderation.audit import first_reviewer

router = APIRouter(tags=["portal"], default_response_class=HTMLResponse)

HOME_ITEMS = 20


@router.get("/", name="home")
def home(request: Request, session: SessionDep) -> HTMLResponse:
    """Latest approved notices and a search box."""
    items = content.latest_approved(session, HOME_ITEMS)
    return render(request, "home.html", {"items": items})


@router.get("/search", name="search_page")
def search_page(
    request: Request,
    session: SessionDep,
    backend: BackendDep,
    settings: SettingsDep,
    params: Annotated[SearchParams, Depends(search_params)],
) -> HTMLResponse:
    """Results with highlighted snippets; every filter lives in the URL so results can be shared."""
    context: dict[str, object] = {"params": params, "search_query": params.q, "results": None}
    try:
        results = run_search(session, backend, params, settings.web.page_size, ZoneInfo(settings.timezone))
        context["results"] = results
        context["unit_slugs"] = content.unit_slugs(session, [b.value for b in results.facets.get("unit", [])])
    except BadSearchRequest:  # a stale or edited cursor: start again from the first page
        return render(request, "search.html", {**context, "bad_cursor": True}, status_code=400)
    except SearchUnavailable:
        # The page still renders (header, form, message); only the status tells machines it failed.
        return render(request, "search.html", {**context, "unavailable": True}, status_code=503)
    return render(request, "search.html", context)


@router.get("/items/{item_id}", name="item_page")
def item_page(request: Request, item_id: int, session: SessionDep) -> HTMLResponse:
    """One approved notice: sanitized content, attachments, dates, unit breadcrumb, reviewer line."""
    item = content.approved_item(session, item_id)
    if item is None:
        raise HTTPException(status_code=404)
    return render(
        request,
        "item.html",
        {
            "item": item,
            "breadcrumb": content.unit_chain(item.unit),
            "original": content.repost_original(session, item),
            "reposts": content.published_reposts(session, item),
            "first_reviewer": first_reviewer(session, item),  # 初审 of a two-step review
        },
    )


@router.get("/units/{slug}", name="unit_page")
def unit_page(request: Request, slug: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """A unit: its place in the tree and the newest approved notices of it and the units below."""
    unit = content.unit_by_slug(session, slug)
    if unit is None:
        raise HTTPException(status_code=404)
    return render(
        request,
        "unit.html",
        {
            "unit": unit,
            "breadcrumb": content.unit_chain(unit),
            "children": content.children_of(session, unit),
            "items": content.subtree_approved(session, unit, settings.web.page_size),
        },
    )
