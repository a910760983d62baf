"""Staff sources API under /api/v1/sources (issue 6; docs/architecture.md steps 2 and 8).

List (filters, pages), get, create, patch, test and discover, through ``hub/sourceadmin.py`` like the
staff pages and ``xinlian sources``. Any staff member may read; only admins add or change sources;
admins and moderators (within their units) may test, and discover, since both make the hub fetch
pages (viewers are read-only: ``api/auth.py`` refuses their writes). Tests and discoveries store
nothing. Errors keep the app's shape, ``{"detail": ...}``: 404 no source, 403 not allowed, 422 an
invalid source with FastAPI's list of ``{loc, msg, type}`` (``loc`` names the body field).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response, status

from api.auth import Admin, Staff, StaffAuthDep
from api.crossorigin import refuse_cross_site_writes
from api.deps import SessionDep, SettingsDep
from api.paging import LimitParam, PageParam, page_count
from api.params import RowId
from api.routes.staff_sources import MAY_CRAWL_NOW
from api.schemas import UnitRef
from api.source_schemas import (
    DiscoverIn,
    DiscoveryOut,
    NewSourceTestIn,
    PreviewItemOut,
    PreviewOut,
    ProposalOut,
    SourceDetailOut,
    SourceIn,
    SourceListOut,
    SourceOut,
    SourcePatch,
    SourceTestIn,
)
from api.strictquery import refuse_unknown_query
from hub.models import HealthStatus, Source, SourceHealth, SourceKind, Unit, User
from hub.secreturl import masked_url
from hub.sourceadmin import (
    STATUSES,
    InvalidSource,
    NoSuchSource,
    NoSuchUnit,
    SourceFilter,
    create_source,
    discover_sources,
    get_source,
    list_sources,
    new_source_test,
    source_test,
    update_source,
)
from moderation.permissions import in_scope

if TYPE_CHECKING:  # the fetching code loads only when a test runs
    from crawlers.preview import Preview

router = APIRouter(
    prefix="/api/v1/sources",
    tags=["sources"],
    dependencies=[Depends(refuse_cross_site_writes), Depends(refuse_unknown_query)],
)
TEXT_PREVIEW = 300  # characters of an item's text in a test


def invalid(exc: InvalidSource) -> HTTPException:
    """A 422 in FastAPI's validation shape, one entry per problem, ``loc`` naming the body field."""
    detail = [
        {"loc": ["body", problem.field], "msg": problem.message, "type": "value_error"}
        for problem in exc.problems
    ]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def _source_or_404(session: SessionDep, source_id: int) -> Source:
    try:
        return get_source(session, source_id)
    except NoSuchSource as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


def may_fetch(session: SessionDep, user: User, source: Source | None = None) -> None:
    """403 unless ``user`` may make the hub fetch pages (for ``source``: within their units)."""
    if user.role not in MAY_CRAWL_NOW:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"{user.username!r} ({user.role}) may not test sources"
        )
    if source is not None and not in_scope(session, user, source.unit_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the source is outside your units")


def source_out(source: Source, unit: Unit, health: str) -> SourceOut:
    """A list row."""
    return SourceOut(
        id=source.id,
        name=source.name,
        kind=source.kind,
        url=masked_url(source.url),  # a key in the URL is for the crawl, not for every staff reader
        platform=source.platform,
        account_id=source.account_id,
        category=source.category,
        unit=UnitRef(id=unit.id, name=unit.name, slug=unit.slug),
        enabled=source.enabled,
        status=health,
        paused_at=source.paused_at,
        next_check_at=source.next_check_at,
        last_checked_at=source.last_checked_at,
        consecutive_failures=source.consecutive_failures,
        last_error_kind=source.last_error_kind,
    )


def detail_out(request: Request, session: SessionDep, source: Source) -> SourceDetailOut:
    """One source with everything staff edit."""
    health = session.get(SourceHealth, source.id)
    row = source_out(source, source.unit, health.status if health else HealthStatus.UNKNOWN.value)
    return SourceDetailOut(
        **row.model_dump(),
        selectors=dict(source.selectors or {}),
        auto_approve=source.auto_approve,
        check_interval_s=source.check_interval_s,
        last_success_at=source.last_success_at,
        last_status_code=source.last_status_code,
        last_error=source.last_error,
        created_at=source.created_at,
        staff_url=str(request.url_for("staff_source", source_id=source.id)),
    )


def preview_out(preview: Preview, source_id: int | None) -> PreviewOut:
    """A test's items and problems."""
    return PreviewOut(
        source_id=source_id,
        items=[
            PreviewItemOut(
                title=item.title,
                url=item.url,
                published_at=item.published_at,
                date_source=item.date_source,
                author=item.author,
                origin=item.origin,
                attachments=len(item.attachments),
                text=item.text[:TEXT_PREVIEW],
            )
            for item in preview.items
        ],
        problems=preview.problems,
    )


@router.get("", response_model=SourceListOut)
def list_route(
    session: SessionDep,
    settings: SettingsDep,
    _user: Staff,
    unit: Annotated[str | None, Query(max_length=64, description="A unit's slug.")] = None,
    below: Annotated[bool, Query(description="With the sources of the units below the unit.")] = True,
    kind: SourceKind | None = None,
    enabled: bool | None = None,
    status_: Annotated[
        str | None,
        Query(alias="status", pattern=f"^({'|'.join(STATUSES)})$", description="Health status, or paused."),
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="In the name or URL.")] = None,
    page: PageParam = 1,
    limit: LimitParam = None,
) -> SourceListOut:
    """Sources in tree order, filtered; 404 when ``unit`` names no unit."""
    size = limit or settings.web.page_size
    wanted = SourceFilter(
        unit=(unit or "").strip() or None,
        below=below,
        kind=kind.value if kind else None,
        enabled=enabled,
        status=status_,
        q=(q or "").strip() or None,
    )
    try:
        found = list_sources(session, wanted, (page - 1) * size, size)
    except NoSuchUnit as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return SourceListOut(
        total=found.total,
        page=page,
        page_size=size,
        pages=page_count(found.total, size),
        items=[source_out(row.source, row.unit, row.status) for row in found.rows],
    )


@router.post("", response_model=SourceDetailOut, status_code=status.HTTP_201_CREATED)
def create_route(
    request: Request,
    response: Response,
    body: SourceIn,
    session: SessionDep,
    settings: SettingsDep,
    admin: Admin,
) -> SourceDetailOut:
    """Add a source (admins): enabled, crawled at the worker's next tick."""
    try:
        source = create_source(
            session, settings, body.unit, body.changes(), admin.username, body.check_interval_s
        )
    except InvalidSource as exc:
        raise invalid(exc) from exc
    out = detail_out(request, session, source)
    response.headers["Location"] = str(request.url_for("source_get", source_id=source.id))
    return out


@router.post("/test", response_model=PreviewOut)
def test_new_route(body: NewSourceTestIn, settings: SettingsDep, admin: Admin) -> PreviewOut:
    """What a source not added yet would yield now (admins); nothing is stored."""
    try:
        preview = new_source_test(settings, {"name": body.name} | body.changes(), body.limit)
    except InvalidSource as exc:
        raise invalid(exc) from exc
    return preview_out(preview, None)


@router.post("/discover", response_model=DiscoveryOut)
def discover_route(
    body: DiscoverIn, session: SessionDep, settings: SettingsDep, auth: StaffAuthDep
) -> DiscoveryOut:
    """Feeds, sitemaps and news list pages a homepage offers, with previews; nothing is stored."""
    may_fetch(session, auth.user)
    try:
        found = discover_sources(session, settings, body.url)
    except InvalidSource as exc:
        raise invalid(exc) from exc
    return DiscoveryOut(
        homepage=found.discovery.homepage,
        proposals=[
            ProposalOut(
                kind=proposal.kind,
                url=proposal.url,
                name=proposal.name,
                preview=proposal.preview,
                registered_source_id=found.registered.get(proposal.url),
            )
            for proposal in found.discovery.proposals
        ],
        problems=found.discovery.problems,
    )


@router.get("/{source_id}", response_model=SourceDetailOut, name="source_get")
def get_route(request: Request, source_id: RowId, session: SessionDep, _user: Staff) -> SourceDetailOut:
    """One source."""
    return detail_out(request, session, _source_or_404(session, source_id))


@router.patch("/{source_id}", response_model=SourceDetailOut)
def patch_route(
    request: Request, source_id: RowId, body: SourcePatch, session: SessionDep, admin: Admin
) -> SourceDetailOut:
    """Change a source (admins): name, URL, kind, account, category, selectors, policy, enabled,
    check interval. Only the fields sent change."""
    source = _source_or_404(session, source_id)
    try:
        update_source(
            session,
            source,
            body.changes(),
            admin.username,
            enabled=body.enabled,
            interval_s=body.check_interval_s,
        )
    except InvalidSource as exc:
        raise invalid(exc) from exc
    return detail_out(request, session, source)


@router.post("/{source_id}/test", response_model=PreviewOut)
def test_route(
    source_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    auth: StaffAuthDep,
    body: Annotated[SourceTestIn | None, Body()] = None,
) -> PreviewOut:
    """What the source yields now — as it is, or with the fields sent (edited selectors...) — read as a
    crawl would; nothing is stored."""
    source = _source_or_404(session, source_id)
    may_fetch(session, auth.user, source)
    wanted: dict[str, Any] = body.changes() if body is not None else {}
    try:
        preview = source_test(settings, source, wanted, body.limit if body is not None else 10)
    except InvalidSource as exc:
        raise invalid(exc) from exc
    return preview_out(preview, source_id)
