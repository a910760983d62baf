"""Staff pages for sources under /staff/sources (issue 6; docs/architecture.md steps 2 and 8).

The list (filters and pages in the URL), the add form, a source's page (details, edit, enable or
disable, crawl now, test) and discovery from a homepage, all through ``hub/sourceadmin.py`` like the
JSON API and ``xinlian sources``. Any staff member may look; admins add and change sources; admins and
moderators (within their units) may test and discover, which make the hub fetch pages but store
nothing. Every form carries the session's CSRF token (checked in ``api/auth.py``, which also keeps
viewers from posting) and a form another site made the browser send is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Admin, Staff, StaffAuthDep
from api.clock import ClockDep
from api.csrf import from_other_site
from api.deps import SessionDep, SettingsDep, get_translator
from api.params import RowId
from api.rendering import render
from api.routes.staff_sources import CRAWL_OUTCOMES, MAY_CRAWL_NOW, crawl_now_outcome
from api.source_form import SourceForm
from api.staff_i18n import staff_translator
from hub.models import HealthStatus, Role, Source, SourceHealth, SourceKind, Unit, User
from hub.registry.rows import ACCOUNT_PLATFORMS
from hub.sourceadmin import (
    PAUSED,
    SELECTOR_KEYS,
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
    proposal_fields,
    source_test,
    update_source,
)
from moderation.permissions import in_scope

if TYPE_CHECKING:  # the fetching code loads only when a test runs
    from crawlers.preview import Preview

PAGE_SIZE = 50
MAX_UNIT_OPTIONS = 1000
TEST_ITEMS = 10
DONE_MESSAGES = frozenset({"created", "saved", "unchanged", "enabled", "disabled"})


def refuse_other_sites(request: Request) -> None:
    """A 403 for a form another site made the browser post (cached Basic credentials need no token)."""
    if request.method == "POST" and from_other_site(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site requests may not change sources")


router = APIRouter(
    prefix="/staff/sources",
    tags=["staff"],
    default_response_class=HTMLResponse,
    dependencies=[Depends(refuse_other_sites)],
)
SourceFormDep = Annotated[SourceForm, Form()]


@dataclass(slots=True)
class ListQuery:
    """The list's filters and page: all of them in the URL."""

    unit: str | None = None
    kind: str | None = None
    enabled: str | None = None  # "yes", "no" or none
    status: str | None = None
    q: str | None = None
    page: int = 1

    def query(self, **changes: Any) -> str:
        """The URL query of these filters with ``changes``, empty ones (and page 1) left out."""
        values = {
            "unit": self.unit,
            "kind": self.kind,
            "enabled": self.enabled,
            "status": self.status,
            "q": self.q,
            "page": self.page,
            **changes,
        }
        return urlencode(
            [(k, str(v)) for k, v in values.items() if v not in (None, "") and not (k == "page" and v == 1)]
        )


def may_fetch(session: Session, user: User, source: Source | None = None) -> bool:
    """Whether ``user`` may make the hub fetch pages (for ``source``: within their units)."""
    if user.role not in MAY_CRAWL_NOW:
        return False
    return source is None or in_scope(session, user, source.unit_id)


def _render(
    request: Request, user: User, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A staff page that no cache keeps and no robot indexes."""
    t = staff_translator(get_translator(request).language)

    def status_label(value: str) -> str:
        return t("src_status_paused") if value == PAUSED else t.label("hstatus", value)

    response = render(
        request,
        template,
        {
            "t": t,
            "user": user,
            "can_decide": user.role != Role.VIEWER.value,
            "is_admin": user.role == Role.ADMIN.value,
            "api_base": "/api/v1/moderation",
            "state_labels": {},
            "kinds": [kind.value for kind in SourceKind],
            "platforms": sorted(ACCOUNT_PLATFORMS),
            "selector_keys": SELECTOR_KEYS,
            "status_label": lambda value: (
                t.label("hstatus", value) if value != PAUSED else t("src_status_paused")
            ),
            **context,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.path).limit(MAX_UNIT_OPTIONS)))


def _problems(exc: InvalidSource) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in exc.problems:
        found.setdefault(problem.field, []).append(problem.message)
    return found


@router.get("", name="staff_sources")
def list_page(
    request: Request,
    session: SessionDep,
    user: Staff,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    kind: SourceKind | None = None,
    enabled: Literal["yes", "no", ""] | None = None,
    status_: Annotated[str | None, Query(alias="status", pattern=f"^({'|'.join(STATUSES)})?$")] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Sources in tree order, filtered by unit (and below), kind, enabled, status and text; paged."""
    wanted = ListQuery(
        unit=(unit or "").strip() or None,
        kind=kind.value if kind else None,
        enabled=enabled or None,
        status=status_ or None,
        q=(q or "").strip() or None,
        page=page,
    )
    service_filter = SourceFilter(
        unit=wanted.unit,
        kind=wanted.kind,
        enabled=None if wanted.enabled is None else wanted.enabled == "yes",
        status=wanted.status,
        q=wanted.q,
    )
    unknown_unit = None
    try:
        found = list_sources(session, service_filter, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    except NoSuchUnit:
        unknown_unit, found = wanted.unit, None
    total = found.total if found else 0
    pages = max(1, -(-total // PAGE_SIZE))
    return _render(
        request,
        user,
        "staff/sources.html",
        {
            "filters": wanted,
            "rows": found.rows if found else [],
            "total": total,
            "statuses": STATUSES,
            "unknown_unit": unknown_unit,
            "page": page,
            "pages": pages,
            "prev_query": wanted.query(page=page - 1) if page > 1 else None,
            "next_query": wanted.query(page=page + 1) if page < pages else None,
        },
    )


def _new_page(
    request: Request,
    session: Session,
    user: User,
    form: SourceForm,
    problems: dict[str, list[str]] | None = None,
    preview: Preview | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _render(
        request,
        user,
        "staff/sources_new.html",
        {"form": form, "units": _units(session), "problems": problems or {}, "preview": preview},
        status_code,
    )


@router.get("/new", name="staff_sources_new")
def new_page(
    request: Request,
    session: SessionDep,
    user: Staff,
    unit: Annotated[str, Query(max_length=64)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    url: Annotated[str, Query(max_length=1000)] = "",
    name: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The add form (for admins; others are told so), pre-filled from the URL (discovery's "add")."""
    return _new_page(request, session, user, SourceForm(unit=unit, kind=kind or "feed", url=url, name=name))


@router.post("/new", name="staff_sources_create")
def create(
    request: Request, session: SessionDep, settings: SettingsDep, admin: Admin, form: SourceFormDep
) -> Response:
    """Add the source, or (action=test) show what it would yield without adding it."""
    try:
        if form.action == "test":
            preview = new_source_test(settings, form.fields(), TEST_ITEMS)
            return _new_page(request, session, admin, form, preview=preview)
        with session.begin_nested():
            source = create_source(
                session, settings, form.unit, form.fields(), admin.username, form.interval_s()
            )
    except InvalidSource as exc:
        return _new_page(
            request, session, admin, form, _problems(exc), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    return _back(request, source.id, "done=created")


@router.get("/discover", name="staff_sources_discover")
def discover_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Staff,
    url: Annotated[str, Query(max_length=1000)] = "",
    unit: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """Discovery from a homepage: proposed sources with previews, each with an "add" button that
    pre-fills the add form. Nothing is stored."""
    allowed = may_fetch(session, user)
    found = None
    problems: dict[str, list[str]] = {}
    if url.strip() and allowed:
        try:
            found = discover_sources(session, settings, url.strip())
        except InvalidSource as exc:
            problems = _problems(exc)
    return _render(
        request,
        user,
        "staff/sources_discover.html",
        {
            "url": url,
            "unit": unit,
            "may_fetch": allowed,
            "found": found,
            "problems": problems,
            "add_fields": lambda proposal: {
                "unit": unit,
                **proposal_fields(proposal.kind, proposal.url, proposal.name),
            },
        },
        status.HTTP_422_UNPROCESSABLE_CONTENT if problems else 200,
    )


def _source_or_404(session: Session, source_id: int) -> Source:
    try:
        return get_source(session, source_id)
    except NoSuchSource as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


def _source_page(
    request: Request,
    session: Session,
    user: User,
    source: Source,
    form: SourceForm | None = None,
    problems: dict[str, list[str]] | None = None,
    preview: Preview | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    done = request.query_params.get("done")
    crawl = request.query_params.get("crawl")
    health = session.get(SourceHealth, source.id)
    return _render(
        request,
        user,
        "staff/sources_source.html",
        {
            "source": source,
            "unit": source.unit,
            "status": health.status if health else HealthStatus.UNKNOWN.value,
            "form": form or SourceForm.of_source(source),
            "problems": problems or {},
            "preview": preview,
            "may_fetch": may_fetch(session, user, source),
            "may_crawl": user.role in MAY_CRAWL_NOW and source.enabled,
            "done": done if done in DONE_MESSAGES else None,
            "crawl_outcome": crawl if crawl in CRAWL_OUTCOMES else None,
        },
        status_code,
    )


def _back(request: Request, source_id: int, query: str) -> RedirectResponse:
    target = request.app.url_path_for("staff_source", source_id=source_id)
    return RedirectResponse(f"{target}?{query}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/{source_id}", name="staff_source")
def source_page(request: Request, source_id: RowId, session: SessionDep, user: Staff) -> HTMLResponse:
    """One source: details, the edit form, enable or disable, crawl now, test."""
    return _source_page(request, session, user, _source_or_404(session, source_id))


@router.post("/{source_id}", name="staff_source_save")
def save(
    request: Request,
    source_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    auth: StaffAuthDep,
    form: SourceFormDep,
) -> Response:
    """Save the edited source (admins), or (action=test) show what the source would yield with the
    edited fields, stored or not (admins and moderators within their units)."""
    user = auth.user
    source = _source_or_404(session, source_id)
    fields = form.fields(source.selectors)
    try:
        if form.action == "test":
            if not may_fetch(session, user, source):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "you may not test this source")
            preview = source_test(settings, source, fields, TEST_ITEMS)
            return _source_page(request, session, user, source, form, preview=preview)
        if user.role != Role.ADMIN.value:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "admins only")
        with session.begin_nested():
            changed = update_source(session, source, fields, user.username, interval_s=form.interval_s())
    except InvalidSource as exc:
        session.refresh(source)
        invalid = status.HTTP_422_UNPROCESSABLE_CONTENT
        return _source_page(request, session, user, source, form, _problems(exc), status_code=invalid)
    return _back(request, source_id, "done=saved" if changed else "done=unchanged")


@router.post("/{source_id}/enabled", name="staff_source_enabled")
def set_enabled(
    request: Request,
    source_id: RowId,
    session: SessionDep,
    admin: Admin,
    enabled: Annotated[bool, Form()],
) -> RedirectResponse:
    """Enable or disable the source (admins); a disabled source is not crawled."""
    source = _source_or_404(session, source_id)
    update_source(session, source, {}, admin.username, enabled=enabled)
    return _back(request, source_id, "done=enabled" if enabled else "done=disabled")


@router.post("/{source_id}/crawl-now", name="staff_source_crawl_now")
def crawl_now_form(
    request: Request,
    source_id: RowId,
    auth: StaffAuthDep,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> RedirectResponse:
    """ "Crawl now": the staff sources API's route, answered with a redirect saying what happened."""
    outcome = crawl_now_outcome(source_id, auth, session, settings, clock)
    return _back(request, source_id, f"crawl={outcome}")
