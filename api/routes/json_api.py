"""JSON API under /api/v1: public search and items (the staff moderation API is routes/moderation_api.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from api import content
from api.auth import OptionalStaff
from api.deps import BackendDep, SessionDep, SettingsDep
from api.schemas import (
    ItemOut,
    SearchItemOut,
    SearchOut,
    UnitRef,
)
from api.search import SearchParams, SearchUnavailable, run_search, search_params
from hub.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["api"])

MAX_LIMIT = 100


def portal_url(settings: Settings, item_id: int) -> str:
    """Absolute URL of an item's portal page."""
    return f"{settings.web.base_url.rstrip('/')}/items/{item_id}"


@router.get("/search", response_model=SearchOut)
def search(
    session: SessionDep,
    backend: BackendDep,
    settings: SettingsDep,
    params: Annotated[SearchParams, Depends(search_params)],
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="Results per page.")] = None,
) -> SearchOut:
    """Approved items matching the query (same parameters as the /search page); 503 if search is down."""
    try:
        page = run_search(session, backend, params, limit or settings.web.page_size)
    except SearchUnavailable as exc:
        raise HTTPException(status_code=503, detail="search is temporarily unavailable") from exc
    items = [
        SearchItemOut(
            id=hit.item_id,
            title=hit.title,
            snippet=hit.snippet,
            url=hit.url,
            portal_url=portal_url(settings, hit.item_id),
            unit=UnitRef(id=hit.unit_id, name=hit.unit_name),
            published_at=hit.published_at,
        )
        for hit in page.result.hits
    ]
    return SearchOut(
        total=page.result.total, page=params.page, page_size=page.page_size, pages=page.pages, items=items
    )


@router.get("/items/{item_id}", response_model=ItemOut)
def get_item(item_id: int, session: SessionDep, settings: SettingsDep, user: OptionalStaff) -> ItemOut:
    """One item: approved ones for everybody, any state for signed-in staff."""
    item = content.any_item(session, item_id) if user else content.approved_item(session, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="no such item")
    return ItemOut.from_item(item, portal_url(settings, item.id))
