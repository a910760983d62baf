"""Search requests shared by the portal page and the JSON API: parameters, paging, degrading when down.

Public requests never choose moderation states: ``SearchQuery.states`` keeps its public default unless a
staff route passes ``staff_states`` (docs/search.md).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.params import MAX_ROW_ID, row_id_query
from hub.models import ItemState, Unit, UnitLevel, UnitType
from index.backend import (
    FacetCount,
    InvalidCursor,
    SearchBackend,
    SearchBackendError,
    SearchQuery,
    SearchResult,
)

logger = logging.getLogger(__name__)

SORTS = ("relevance", "date")
LEVELS = tuple(level.value for level in UnitLevel)
UNIT_TYPES = tuple(kind.value for kind in UnitType)
STATES = tuple(state.value for state in ItemState)
MAX_PAGE = 500  # page numbers are for people; deep paging goes by cursor (SearchResult.next_cursor)


class SearchUnavailable(RuntimeError):
    """The search backend could not answer; pages show a message and the API answers 503."""


class BadSearchRequest(ValueError):
    """A parameter the backend refused (an unknown or foreign cursor); the API answers 400."""


@dataclass(frozen=True, slots=True)
class SearchParams:
    """What the visitor asked for, normalized; also the shareable URL of the result page."""

    q: str = ""
    unit: str = ""  # unit slug: that unit and its subtree
    level: str = ""
    unit_type: str = ""  # the ``type`` parameter: government, party, school ... (hub/models.py UnitType)
    category: str = ""
    region: str = ""  # region code: that region and below
    source: int | None = None
    since: date | None = None  # first day included, in the configured zone
    until: date | None = None  # last day included
    attachments: bool = False  # only items with attachments
    recent: bool = False  # relevance with a recency boost
    sort: str = "relevance"
    page: int = 1
    cursor: str = ""

    def query_string(self, **changes: object) -> str:
        """URL query of these parameters (with ``changes``), leaving out defaults to keep links short."""
        params = replace(self, **changes)  # type: ignore[arg-type]
        pairs = [
            ("q", params.q),
            ("unit", params.unit),
            ("level", params.level),
            ("type", params.unit_type),
            ("category", params.category),
            ("region", params.region),
            ("source", "" if params.source is None else str(params.source)),
            ("since", str(params.since or "")),
            ("until", str(params.until or "")),
            ("attachments", "1" if params.attachments else ""),
            ("recent", "1" if params.recent else ""),
            ("sort", "" if params.sort == "relevance" else params.sort),
            ("page", "" if params.page == 1 else str(params.page)),
            ("cursor", params.cursor),
        ]
        return urlencode([(key, value) for key, value in pairs if value])


async def search_params(
    q: Annotated[str, Query(max_length=200, description="Words to look for; empty: newest first.")] = "",
    unit: Annotated[str, Query(max_length=64, description="Unit slug: the unit and its subtree.")] = "",
    level: Annotated[str, Query(max_length=16, description="Unit level: city, district, ... branch.")] = "",
    category: Annotated[str, Query(max_length=50, description="Category of the notice.")] = "",
    unit_type: Annotated[
        str,
        Query(alias="type", max_length=16, description="Unit type: government, party, school, ... other."),
    ] = "",
    region: Annotated[str, Query(max_length=32, description="Region code: the region and below.")] = "",
    source: Annotated[int | None, row_id_query("Only items of this source id.")] = None,
    since: Annotated[date | None, Query(description="First day (YYYY-MM-DD), inclusive.")] = None,
    until: Annotated[date | None, Query(description="Last day (YYYY-MM-DD), inclusive.")] = None,
    attachments: Annotated[bool, Query(description="Only items with attachments.")] = False,
    recent: Annotated[bool, Query(description="Relevance order with newer items weighing more.")] = False,
    sort: Annotated[str, Query(max_length=16, description="relevance or date.")] = "relevance",
    page: Annotated[int, Query(ge=1, le=MAX_ROW_ID, description="Page number, from 1.")] = 1,
    cursor: Annotated[
        str,
        Query(max_length=512, description="next_cursor of the previous page (deep paging; wins over page)."),
    ] = "",
) -> SearchParams:
    """Request parameters as SearchParams; unknown sort, level or type values fall back to 'no filter'.

    async: FastAPI runs a plain ``def`` dependency on a worker thread, a hand-over that costs more CPU
    than the few comparisons here (in-process, ~0.2 ms of a search request's ~1.1 ms outside the
    backend)."""
    return normalized_params(
        SearchParams(
            q=q,
            unit=unit,
            level=level,
            unit_type=unit_type,
            category=category,
            region=region,
            source=source,
            since=since,
            until=until,
            attachments=attachments,
            recent=recent,
            sort=sort,
            page=page,
            cursor=cursor,
        )
    )


def normalized_params(params: SearchParams) -> SearchParams:
    """``params`` trimmed; unknown sort, level or type values fall back to 'no filter', pages beyond
    MAX_PAGE to MAX_PAGE."""
    return replace(
        params,
        q=params.q.strip(),
        unit=params.unit.strip(),
        level=params.level if params.level in LEVELS else "",
        unit_type=params.unit_type if params.unit_type in UNIT_TYPES else "",
        category=params.category.strip(),
        region=params.region.strip(),
        sort=params.sort if params.sort in SORTS else "relevance",
        page=min(params.page, MAX_PAGE),
        cursor=params.cursor.strip(),
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
        return self.params.page > 1 and not self.params.cursor

    @property
    def has_next(self) -> bool:
        return (
            self.params.page < self.pages if not self.params.cursor else self.result.next_cursor is not None
        )

    @property
    def facets(self) -> dict[str, list[FacetCount]]:
        """Facet buckets of the whole result (unit, level, category, month)."""
        return self.result.facets


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def build_query(
    session: Session,
    params: SearchParams,
    page_size: int,
    zone: ZoneInfo,
    staff_states: tuple[str, ...] | None = None,
    staff: bool = False,
    facets: bool = True,
) -> SearchQuery | None:
    """The backend query of ``params``; None when it cannot match anything (an unknown unit).

    ``staff`` widens the states to ``staff_states`` (None: every state); public callers leave it off.
    ``facets`` costs an aggregation over every match (about half of a search's time): pages want it,
    API clients ask for it.
    """
    unit_id: int | None = None
    if params.unit:
        unit_id = session.scalar(select(Unit.id).where(Unit.slug == params.unit))
        if unit_id is None:
            return None
    query = SearchQuery(
        text=params.q,
        unit_subtree=unit_id,
        unit_level=params.level or None,
        unit_type=params.unit_type or None,
        category=params.category or None,
        region=params.region or None,
        source_id=params.source,
        date_from=_day_start(params.since, zone) if params.since else None,
        date_to=_day_start(params.until + timedelta(days=1), zone) - timedelta(microseconds=1)
        if params.until
        else None,
        has_attachments=True if params.attachments else None,
        # Without words there is nothing to rank by: newest first.
        sort=params.sort if params.q else "date",
        recency_boost=params.recent,
        facets=facets,
        limit=page_size,
        offset=(params.page - 1) * page_size,
        cursor=params.cursor or None,
    )
    if staff:
        query.states = staff_states
    return query


def run_search(
    session: Session,
    backend: SearchBackend,
    params: SearchParams,
    page_size: int,
    zone: ZoneInfo,
    staff_states: tuple[str, ...] | None = None,
    staff: bool = False,
    facets: bool = True,
) -> SearchPage:
    """Ask the backend for one page of ``params``; raises SearchUnavailable when the backend fails and
    BadSearchRequest for a cursor it refuses."""
    query = build_query(session, params, page_size, zone, staff_states, staff, facets)
    if query is None:  # an unknown unit has no notices
        return SearchPage(params, SearchResult(total=0), page_size)
    try:
        result = backend.search(query)
    except InvalidCursor as exc:
        raise BadSearchRequest(str(exc)) from exc
    except SearchBackendError as exc:
        # The portal keeps serving pages when the index is down; the traceback goes to the log.
        logger.exception("search backend failed for %r", query)
        raise SearchUnavailable(str(exc)) from exc
    return SearchPage(params, result, page_size)
