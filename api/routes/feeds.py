"""Our feeds: everything, a unit (± subtree), a category, any search; RSS 2.0, Atom or JSON Feed 1.1.

Only approved items appear. Every answer carries a strong ETag, Last-Modified, public caching and the
WebSub ``Link`` headers (rel="hub" is our hub, rel="self" the canonical topic URL); a client whose copy
is current gets a 304 without a body.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from api.deps import BackendDep, SessionDep, SettingsDep
from api.feeds import render
from api.feeds.conditional import conditional_response
from api.feeds.query import UnknownFeed
from api.feeds.spec import FORMATS, FeedSpec, canonical_search
from api.search import SearchParams, search_params
from index.backend import SearchBackendError

router = APIRouter(tags=["feeds"])


def _answer(
    request: Request, spec: FeedSpec, session: SessionDep, backend: BackendDep, settings: SettingsDep
) -> Response:
    if spec.fmt not in FORMATS:
        raise HTTPException(status_code=404)
    try:
        found = render.load(session, backend, settings, spec)
    except UnknownFeed:
        raise HTTPException(status_code=404) from None
    except SearchBackendError:
        raise HTTPException(status_code=503, detail="search is temporarily unavailable") from None
    return conditional_response(
        request.headers,
        render.validators(found, settings),
        settings.feeds.max_age_s,
        lambda: Response(render.document(found, settings), media_type=spec.media_type),
        {"Link": render.link_header(spec, settings.web.base_url)},
    )


@router.get("/feed.{fmt}", name="feed_all")
def feed_all(
    fmt: str, request: Request, session: SessionDep, backend: BackendDep, settings: SettingsDep
) -> Response:
    """Every approved notice, newest first (a repost stands behind its published original)."""
    return _answer(request, FeedSpec("all", fmt), session, backend, settings)


@router.get("/units/{slug}/feed.{fmt}", name="feed_unit")
def feed_unit(
    slug: str,
    fmt: str,
    request: Request,
    session: SessionDep,
    backend: BackendDep,
    settings: SettingsDep,
    subtree: bool = True,
) -> Response:
    """A unit's notices; with ``subtree=1`` (the default) those of every unit below it too."""
    return _answer(request, FeedSpec("unit", fmt, unit=slug, subtree=subtree), session, backend, settings)


@router.get("/categories/{category}/feed.{fmt}", name="feed_category")
def feed_category(
    category: str, fmt: str, request: Request, session: SessionDep, backend: BackendDep, settings: SettingsDep
) -> Response:
    """Notices of one category (the item's, else its source's)."""
    return _answer(request, FeedSpec("category", fmt, category=category), session, backend, settings)


@router.get("/search/feed.{fmt}", name="search_feed")
def search_feed(
    fmt: str,
    request: Request,
    session: SessionDep,
    backend: BackendDep,
    settings: SettingsDep,
    params: Annotated[SearchParams, Depends(search_params)],
) -> Response:
    """Any search as a feed: the parameters of /search, newest first, without paging."""
    spec = FeedSpec("search", fmt, search=canonical_search(params))
    return _answer(request, spec, session, backend, settings)
