"""Search requests shared by the portal page and the JSON API: parameters, paging, degrading when down."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Unit, UnitLevel
from index.backend import SearchBackend, SearchBackendError, SearchQuery, SearchResult

logger = logging.getLogger(__name__)

SORTS = ("relevance", "date")
LEVELS = tuple(level.value for level in UnitLevel)
MAX_PAGE = 500  # deep paging is refused by Elasticsearch anyway (max_result_window)


class SearchUnavailable(RuntimeError):
    """The search backend could not answer; pages show a message and the API answers 503."""


@dataclass(frozen=True, slots=True)
class SearchParams:
    """What the visitor asked for, normalized; also the shareable URL of the result page."""

    q: str = ""
    unit: str = ""  # unit slug: that unit and its subtree
    level: str = ""
    category: str = ""
    sort: str = "relevance"
    page: int = 1

    def query_string(self, **changes: object) -> str:
        """URL query of these parameters (with ``changes``), leaving out defaults to keep links short."""
        params = replace(self, **changes)  # type: ignore[arg-type]
        pairs = [
            ("q", params.q),
            ("unit", params.unit),
            ("level", params.level),
            ("category", params.category),
            ("sort", "" if params.sort == "relevance" else params.sort),
            ("page", "" if params.page == 1 else str(params.page)),
        ]
        return urlencode([(key, value) for key, value in pairs if value])


def search_params(
    q: Annotated[str, Query(max_length=200, description="Words to look for; empty: newest first.")] = "",
    unit: Annotated[str, Query(max_length=64, description="Unit slug: the unit and its subtree.")] = "",
    level: Annotated[str, Query(max_length=16, description="Unit level: city, district, ... branch.")] = "",
    category: Annotated[str, Query(max_length=50, description="Category of the notice.")] = "",
    sort: Annotated[str, Query(max_length=16, description="relevance or date.")] = "relevance",
    page: Annotated[int, Query(ge=1, description="Page number, from 1.")] = 1,
) -> SearchParams:
    """Request parameters as SearchParams; unknown sort or level values fall back to 'no filter'."""
    return SearchParams(
        q=q.strip(),
        unit=unit.strip(),
        level=level if level in LEVELS else "",
        category=category.strip(),
        sort=sort if sort in SORTS else "relevance",
        page=min(page, MAX_PAGE),
    )


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results with what pagination needs."""

    params: SearchParams
    result: SearchResult
    page_size: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1), capped at MAX_PAGE."""
        return max(1, min(MAX_PAGE, math.ceil(self.result.total / self.page_size)))

    @property
    def has_prev(self) -> bool:
        return self.params.page > 1

    @property
    def has_next(self) -> bool:
        return self.params.page < self.pages


def run_search(session: Session, backend: SearchBackend, params: SearchParams, page_size: int) -> SearchPage:
    """Ask the backend for one page of ``params``; raises SearchUnavailable when the backend fails."""
    unit_id: int | None = None
    if params.unit:
        unit_id = session.scalar(select(Unit.id).where(Unit.slug == params.unit))
        if unit_id is None:  # an unknown unit has no notices
            return SearchPage(params, SearchResult(total=0), page_size)
    query = SearchQuery(
        text=params.q,
        unit_subtree=unit_id,
        unit_level=params.level or None,
        category=params.category or None,
        # Without words there is nothing to rank by: newest first.
        sort=params.sort if params.q else "date",
        limit=page_size,
        offset=(params.page - 1) * page_size,
    )
    try:
        result = backend.search(query)
    except SearchBackendError as exc:
        # The portal keeps serving pages when the index is down; the traceback goes to the log.
        logger.exception("search backend failed for %r", query)
        raise SearchUnavailable(str(exc)) from exc
    return SearchPage(params, result, page_size)
