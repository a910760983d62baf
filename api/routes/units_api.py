"""The units API under /api/v1/units: the directory with filters, one unit as its portal page shows it
(parent chain, children, sources, feeds, widgets, counts, crawl health) and the unit's approved items
with cursor paging. Public; signed-in staff also see the unit's disabled sources."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from api import content
from api.auth import OptionalStaff
from api.deps import SessionDep, SettingsDep, get_translator
from api.feeds.snippets import widget_snippets
from api.feeds.widget import WidgetParams
from api.paging import LimitParam, PageParam, page_count
from api.rendering import http_url, public_url
from api.routes.json_api import portal_url
from api.routes.portal import unit_feed_links
from api.schemas import UnitRef
from api.strictquery import refuse_unknown_query
from api.unit_health import unit_health
from api.unit_queries import (
    BadCursor,
    ItemCursor,
    UnitFilter,
    approved_count,
    approved_page,
    find_unit,
    item_scope,
    list_units,
    listed_sources,
    units_below,
)
from api.unit_schemas import (
    FeedLinksOut,
    UnitBadgeOut,
    UnitCountsOut,
    UnitDetailOut,
    UnitItemOut,
    UnitItemsOut,
    UnitListOut,
    UnitOut,
    UnitSourceOut,
    WidgetOut,
)
from hub.models import Item, Source, Unit, UnitLevel, UnitType
from hub.settings import Settings

router = APIRouter(prefix="/api/v1/units", tags=["api"], dependencies=[Depends(refuse_unknown_query)])

UnitKey = Annotated[str, Path(min_length=1, max_length=64, description="The unit's slug or id.")]
NO_UNIT = "no such unit"


def _base(settings: Settings) -> str:
    return settings.web.base_url.rstrip("/")


def _unit_out(settings: Settings, unit: Unit) -> UnitOut:
    return UnitOut(
        id=unit.id,
        slug=unit.slug,
        name=unit.name,
        level=unit.level,
        unit_type=unit.unit_type,
        region_code=unit.region_code,
        parent_id=unit.parent_id,
        website=http_url(unit.website) or None,
        portal_url=f"{_base(settings)}/units/{quote(unit.slug, safe='')}",
    )


def _unit_or_404(session: SessionDep, key: str) -> Unit:
    unit = find_unit(session, key.strip())
    if unit is None:
        raise HTTPException(status_code=404, detail=NO_UNIT)
    return unit


@router.get("", response_model=UnitListOut)
def list_units_route(
    session: SessionDep,
    settings: SettingsDep,
    parent: Annotated[
        str | None, Query(max_length=64, description="Only the units directly below this one (slug or id).")
    ] = None,
    level: UnitLevel | None = None,
    unit_type: Annotated[UnitType | None, Query(alias="type", description="The unit's type.")] = None,
    region: Annotated[
        str | None,
        Query(
            max_length=12,
            pattern=r"^\d+$",
            description="Division code or its prefix (a district's code matches its streets).",
        ),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="In the name or slug, case-insensitive.")
    ] = None,
    page: PageParam = 1,
    limit: LimitParam = None,
) -> UnitListOut:
    """Units in tree order, filtered; 404 if ``parent`` names no unit."""
    parent_id = _unit_or_404(session, parent).id if parent and parent.strip() else None
    wanted = UnitFilter(
        parent_id=parent_id,
        level=level.value if level else None,
        unit_type=unit_type.value if unit_type else None,
        region=region,
        q=(q or "").strip() or None,
    )
    size = limit or settings.web.page_size
    total, units = list_units(session, wanted, (page - 1) * size, size)
    return UnitListOut(
        total=total,
        page=page,
        page_size=size,
        pages=page_count(total, size),
        items=[_unit_out(settings, unit) for unit in units],
    )


def _source_out(source: Source, staff: bool) -> UnitSourceOut:
    account = source.kind == "account"
    return UnitSourceOut(
        id=source.id,
        name=source.name,
        kind=source.kind,
        category=source.category,
        # An account's stored URL is bridge://platform/account; the bridge's own address and key are
        # added at crawl time and never stored, but the public gets no bridge URL at all, nor a URL
        # with a credential in it (a feed behind ?token=, a bridge route listed with its key).
        url=None if account else (public_url(source.url) or None),
        platform=source.platform,
        account_id=source.account_id,
        enabled=source.enabled if staff else None,
    )


def _widget_out(request: Request, settings: Settings, unit: Unit) -> WidgetOut:
    base = _base(settings)
    query = WidgetParams(unit.slug).query_string()
    snippets = widget_snippets(unit, settings.web.base_url, language=get_translator(request).language)
    return WidgetOut(
        iframe_url=f"{base}/widgets/latest?{query}",
        script_url=f"{base}/widgets/latest.js?{query}",
        data_url=f"{base}/widgets/latest.json?{query}",
        iframe_html=snippets.iframe,
        script_html=snippets.script,
    )


@router.get("/{unit}", response_model=UnitDetailOut)
def get_unit(
    request: Request, unit: UnitKey, session: SessionDep, settings: SettingsDep, user: OptionalStaff
) -> UnitDetailOut:
    """One unit: parent chain, children, sources, feeds, widget code, counts and crawl health."""
    found = _unit_or_404(session, unit)
    children = content.children_of(session, found)
    sources = listed_sources(session, found, staff=user is not None)
    badge = unit_health(session, [found.id])[found.id]
    return UnitDetailOut(
        **_unit_out(settings, found).model_dump(),
        breadcrumb=[UnitRef(id=u.id, name=u.name, slug=u.slug) for u in content.unit_chain(found)],
        children=[_unit_out(settings, child) for child in children],
        sources=[_source_out(source, staff=user is not None) for source in sources],
        feeds=[
            FeedLinksOut(format=link.fmt, media_type=link.media_type, subtree=link.subtree, own=link.own)
            for link in unit_feed_links(found.slug, settings.web.base_url)
        ],
        widget=_widget_out(request, settings, found),
        counts=UnitCountsOut(
            children=len(children),
            units_below=units_below(session, found),
            sources=len(sources),
            approved_items=approved_count(session, item_scope(found, subtree=False)),
            approved_items_subtree=approved_count(session, item_scope(found, subtree=True)),
        ),
        health=UnitBadgeOut(
            status=badge.status,
            sources=badge.sources,
            failing=badge.failing,
            worst_failures=badge.worst_failures,
            last_success_at=badge.last_success_at,
            site_status=badge.site_status,
            score=badge.score,
        ),
        items_url=f"{_base(settings)}/api/v1/units/{found.id}/items",
    )


def _item_out(settings: Settings, item: Item) -> UnitItemOut:
    return UnitItemOut(
        id=item.id,
        title=item.title,
        url=item.url,
        portal_url=portal_url(settings, item.id),
        unit=UnitRef(id=item.unit.id, name=item.unit.name, slug=item.unit.slug),
        published_at=item.published_at,
        first_seen_at=item.first_seen_at,
        category=item.category,
        has_attachments=bool(item.attachments),
    )


@router.get("/{unit}/items", response_model=UnitItemsOut)
def unit_items(
    unit: UnitKey,
    session: SessionDep,
    settings: SettingsDep,
    subtree: Annotated[bool, Query(description="Include the items of the units below (default).")] = True,
    page: PageParam = 1,
    cursor: Annotated[
        str,
        Query(max_length=512, description="next_cursor of the previous page (deep paging; wins over page)."),
    ] = "",
    limit: LimitParam = None,
) -> UnitItemsOut:
    """Approved items of the unit (and below), newest first: by publication date, undated ones last."""
    found = _unit_or_404(session, unit)
    try:
        after = ItemCursor.decode(cursor.strip()) if cursor.strip() else None
    except BadCursor as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    size = limit or settings.web.page_size
    scope = item_scope(found, subtree)
    total = approved_count(session, scope)
    shown_page = 1 if after is not None else page
    items, following = approved_page(session, scope, size, (shown_page - 1) * size, after)
    return UnitItemsOut(
        total=total,
        page=shown_page,
        page_size=size,
        pages=page_count(total, size),
        items=[_item_out(settings, item) for item in items],
        next_cursor=following.encode() if following else None,
    )
