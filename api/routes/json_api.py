"""JSON API under /api/v1: public search and items; staff moderation queue and decisions."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from sqlalchemy.exc import SQLAlchemyError

from api import content
from api.auth import OptionalStaff, Staff
from api.deps import BackendDep, DatabaseDep, SessionDep, SettingsDep
from api.schemas import (
    DecisionIn,
    DecisionOut,
    ItemOut,
    QueueItemOut,
    QueueOut,
    SearchItemOut,
    SearchOut,
    UnitRef,
)
from api.search import SearchParams, SearchUnavailable, run_search, search_params
from hub.db import Database
from hub.models import ItemState, User
from hub.settings import Settings
from index.backend import SearchBackend
from index.outbox import drain_outbox
from moderation.errors import Conflict, Forbidden, InvalidTransition, ModerationError, NotFound
from moderation.queue import count_queue, list_queue
from moderation.service import transition

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["api"])

MAX_LIMIT = 100
# How each moderation error reaches the client.
_ERROR_STATUS: dict[type[ModerationError], int] = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    InvalidTransition: 422,
}


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


@router.get("/moderation/queue", response_model=QueueOut)
def moderation_queue(
    session: SessionDep,
    user: Staff,
    state: Annotated[
        str, Query(description="pending, approved, rejected, needs_changes, withdrawn")
    ] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> QueueOut:
    """Items in a moderation state, oldest first; a moderator limited to a unit sees only its subtree."""
    if state not in {value.value for value in ItemState}:
        raise HTTPException(status_code=422, detail=f"unknown state {state!r}")
    scope = user.unit_scope_id
    items = list_queue(session, state=state, limit=limit, offset=offset, unit_subtree=scope)
    return QueueOut(
        state=state,
        total=count_queue(session, state=state, unit_subtree=scope),
        items=[
            QueueItemOut(
                id=item.id,
                title=item.title,
                url=item.url,
                unit=UnitRef(id=item.unit.id, name=item.unit.name, slug=item.unit.slug),
                state=item.state,
                version=item.version,
                published_at=item.published_at,
                first_seen_at=item.first_seen_at,
            )
            for item in items
        ],
    )


def _decide(
    database: Database,
    backend: SearchBackend,
    settings: Settings,
    user: User,
    item_id: int,
    action: str,
    body: DecisionIn,
) -> DecisionOut:
    """Apply ``action`` in its own transaction, then let the index catch up."""
    try:
        with database.session() as session:
            item = transition(
                session, item_id, action, user, reason=body.reason, expected_version=body.version
            )
            decided = DecisionOut(
                id=item.id,
                state=item.state,
                version=item.version,
                reviewed_by=item.reviewed_by,
                reviewed_at=item.reviewed_at,
            )
    except ModerationError as exc:
        raise HTTPException(status_code=_ERROR_STATUS.get(type(exc), 422), detail=str(exc)) from exc
    # The decision and its outbox row are committed; bring the index up to date now so the change is
    # visible at once. The drainer keeps rows the backend refused for the worker to retry; a store
    # hiccup here must not turn a committed decision into an error either.
    try:
        stats = drain_outbox(database, backend, batch=settings.search.outbox_batch)
    except SQLAlchemyError:
        logger.exception(
            "index catch-up after the decision on item %s failed; the worker will retry", item_id
        )
    else:
        if stats.failed:
            logger.warning("index catch-up after item %s: %s", item_id, stats)
    return decided


@router.post("/moderation/items/{item_id}/approve", response_model=DecisionOut)
def approve_item(
    item_id: int,
    database: DatabaseDep,
    backend: BackendDep,
    settings: SettingsDep,
    user: Staff,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> DecisionOut:
    """Approve an item: it becomes public and searchable."""
    return _decide(database, backend, settings, user, item_id, "approve", body or DecisionIn())


@router.post("/moderation/items/{item_id}/reject", response_model=DecisionOut)
def reject_item(
    item_id: int,
    database: DatabaseDep,
    backend: BackendDep,
    settings: SettingsDep,
    user: Staff,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> DecisionOut:
    """Reject an item: it is never republished."""
    return _decide(database, backend, settings, user, item_id, "reject", body or DecisionIn())
